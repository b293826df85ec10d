/** FanOutIngest's runtime entry: the factory that registers the app's functions. */
export { register as createFunctions } from "./functions";
