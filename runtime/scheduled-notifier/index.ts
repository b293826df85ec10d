/** ScheduledNotifier's runtime entry: the factories of its producer and consumer functions. */
export { createProducer } from "./producer";
export { createConsumer } from "./consumer";
