/** The fake EC2 and Auto Scaling: its state (`world`), its HTTP server, and fixtures for the attacher. */
export * from "./callbacks";
export * from "./query-server";
export * from "./world";
