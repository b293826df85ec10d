/**
 * A stack of another team that uses queue-patterns as a package (`file:../..` here; a registry
 * version in real life): listing events from the CRM, processed one at a time per listing.
 *
 *   cd ../.. && npm ci && npm run build      # build queue-patterns first
 *   cd examples/listings && npm install
 *   pulumi stack init dev && pulumi config set aws:region eu-west-1 && pulumi up
 */
import * as pulumi from "@pulumi/pulumi";
import { FifoIngester } from "queue-patterns";

interface ListingChanged {
  listingId: string;
  price: number;
  changedAt: string;
}

const config = new pulumi.Config();
const searchIndexUrl = config.get("searchIndexUrl") ?? "https://search.example.com/listings";

const listings = new FifoIngester<ListingChanged>("listings", {
  // Never runs twice at the same time for one listing; different listings run in parallel.
  handler: async (event, meta) => {
    const response = await fetch(`${searchIndexUrl}/${encodeURIComponent(event.listingId)}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ price: event.price, changedAt: event.changedAt }),
    });
    if (!response.ok) throw new Error(`search index answered ${response.status} for ${event.listingId}`);
    console.log(JSON.stringify({ indexed: event.listingId, sequenceNumber: meta.sequenceNumber }));
  },
  maxConcurrency: 20,
  maxDeliveryCount: 5,
});

export const topicArn = listings.topicArn;
export const deadLetterQueueUrl = listings.deadLetterQueueUrl;
