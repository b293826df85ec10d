/** PersistentEniAsg's runtime entry: the factory of its lifecycle-hook attacher function. */
export { createAttacher } from "./attacher";
