/** FifoIngester's runtime entry: the factory of its consumer function. */
export { createConsumer } from "./handler";
