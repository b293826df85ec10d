/** FifoIngester's runtime entry: the factory of its consumer function. */
export { createFifoHandler as createConsumer } from "./handler";
