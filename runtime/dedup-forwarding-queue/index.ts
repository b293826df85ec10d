/** DedupForwardingQueue's runtime entry: the factory that registers the processing function. */
export { registerProcessor as createProcessor } from "./processor";
