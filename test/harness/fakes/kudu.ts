/**
 * A Flex Consumption app as one deploy sees it, on 127.0.0.1: its SCM (Kudu) host and the ARM calls
 * on its site, answering the way the sources below document or report, driven by a scripted
 * sequence per endpoint and a fake clock.
 *
 * - `POST /api/publish` answers 202 with the new deployment's id as a quoted string (azd #3658;
 *   az CLI's `enable_zip_deploy_flex` logs the body as the deployment id), or a scripted refusal:
 *   403 and 400 `BlobUploadFailedException` while role assignments propagate (azd #4439, endjin
 *   ZeroFailed), 409 while another deployment runs, 401 for a refused token.
 * - `GET /api/deployments/latest` shows the previous deployment until Kudu switches to the new one
 *   (azure-cli PR #20261); `GET /api/deployments/<id>` shows that deployment: status 0..2 in
 *   progress, 3 failed, 4 success (Kudu's DeployStatus), or 404 while it is not (or no longer) known.
 * - `POST <site id>/host/default/sync` (WebApps_SyncFunctions,
 *   https://learn.microsoft.com/rest/api/appservice/web-apps/sync-functions) answers 204, or a
 *   scripted status.
 * - `GET <site id>/functions` (WebApps_ListFunctions,
 *   https://learn.microsoft.com/rest/api/appservice/web-apps/list-functions) answers
 *   `{ value: FunctionEnvelope[] }` with `name` `<site>/<function>`. Before the triggers are synced
 *   it lists what Flex reports after a deployment Kudu called successful: only `WarmUp`
 *   (Azure/functions-action #373, azure-functions-host #10169) or no function at all
 *   (azure-functions-host #11915); the package's functions appear once a sync was accepted (the
 *   portal's "Refresh" in those reports), or never.
 */
import type * as http from "node:http";
import { listenOnLoopback } from "../../../testing/loopback-server";

export interface DeploymentRecord {
  id?: string;
  status: number;
  status_text?: string;
  log_url?: string;
}

/** What ARM lists before a sync: only the WarmUp function (functions-action #373), or nothing (azure-functions-host #11915). */
export type UnsyncedListing = "warmup-only" | "none";

export interface KuduScript {
  /** Answers of POST /api/publish in turn; once they run out, 202 with a new deployment id. */
  publish?: { status: number; body: string }[];
  /** What GET /api/deployments/<new id> shows, in turn (null: 404); the last one repeats. */
  deployment?: (Omit<DeploymentRecord, "id"> | null)[];
  /** The statuses of the ARM trigger sync, in turn (204: accepted); the last one repeats. */
  sync?: number[];
  /** The statuses of the ARM function list, in turn (200: the list); the last one repeats. */
  listFunctions?: number[];
  /** What the function list shows until a sync is accepted. @default "warmup-only" */
  unsynced?: UnsyncedListing;
  /** The functions the package registers, listed after an accepted sync; null: they never appear. @default DEPLOYED_FUNCTIONS */
  deployedFunctions?: string[] | null;
}

export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** The functions the test package registers. */
export const DEPLOYED_FUNCTIONS = ["chunk", "ingest"];
export const SITE_ID =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Web/sites/app";
export const NEW_DEPLOYMENT_ID = "8b1d5a52-6a1f-4b62-9d3c-0f4e1e7a2c11";
export const PREVIOUS_DEPLOYMENT_ID = "0c7e2f5d-3b9a-4e8f-a1d2-9f6b4c3e2a10";

/** A clock `sleep` advances, so retries and deadlines take no real time. */
export class FakeClock {
  time = 1_700_000_000_000;
  readonly sleeps: number[] = [];
  now = (): number => this.time;
  sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.time += ms;
  };
}

export interface FakeKudu {
  url: string;
  seen: SeenRequest[];
  /** Sets what the endpoints answer from now on. */
  play(script: KuduScript): void;
  stop(): Promise<void>;
}

export async function startFakeKudu(clock: FakeClock): Promise<FakeKudu> {
  let publish: KuduScript["publish"] = [];
  let deployment: NonNullable<KuduScript["deployment"]> = [];
  let sync: number[] = [];
  let listFunctions: number[] = [];
  let unsynced: UnsyncedListing = "warmup-only";
  let deployedFunctions: string[] | null = DEPLOYED_FUNCTIONS;
  let deployedAt: number | undefined;
  let synced = false;
  const seen: SeenRequest[] = [];
  const next = <T>(list: T[]): T | undefined => (list.length > 1 ? list.shift() : list[0]);
  const json = (response: http.ServerResponse, status: number, value: unknown) =>
    response.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(value));
  const armError = (response: http.ServerResponse, status: number) =>
    json(response, status, {
      error: {
        code: status === 401 ? "InvalidAuthenticationToken" : status === 403 ? "AuthorizationFailed" : "BadRequest",
      },
    });
  const envelope = (name: string) => ({
    id: `${SITE_ID}/functions/${name}`,
    name: `app/${name}`,
    type: "Microsoft.Web/sites/functions",
    properties: { config: {}, isDisabled: false, language: "node" },
  });

  const server = await listenOnLoopback((request, body, response) => {
    const path = (request.url ?? "").split("?")[0];
    seen.push({ method: request.method ?? "", path, headers: request.headers, body, at: clock.now() });
    if (request.method === "POST" && path === "/api/publish") {
      const refusal = publish?.shift();
      if (refusal) return void response.writeHead(refusal.status).end(refusal.body);
      deployedAt = clock.now();
      synced = false;
      return void response.writeHead(202).end(JSON.stringify(NEW_DEPLOYMENT_ID));
    }
    if (request.method === "GET" && path === "/api/deployments/latest") {
      return void json(response, 200, { id: PREVIOUS_DEPLOYMENT_ID, status: 4, status_text: "Deployment successful." });
    }
    if (request.method === "GET" && path === `/api/deployments/${NEW_DEPLOYMENT_ID}`) {
      const record = deployedAt === undefined ? null : next(deployment);
      if (!record) return void json(response, 404, { Message: `Deployment '${NEW_DEPLOYMENT_ID}' not found.` });
      return void json(response, 200, { id: NEW_DEPLOYMENT_ID, ...record });
    }
    if (request.method === "POST" && path === `${SITE_ID}/host/default/sync`) {
      const status = next(sync) ?? 204;
      if (status >= 300) return void armError(response, status);
      synced = true;
      return void response.writeHead(status).end();
    }
    if (request.method === "GET" && path === `${SITE_ID}/functions`) {
      const status = next(listFunctions) ?? 200;
      if (status !== 200) return void armError(response, status);
      const names =
        synced && deployedAt !== undefined && deployedFunctions
          ? deployedFunctions
          : unsynced === "warmup-only"
            ? ["WarmUp"]
            : [];
      return void json(response, 200, { value: names.map(envelope) });
    }
    response.writeHead(404).end();
  });
  return {
    url: server.url,
    seen,
    play(script) {
      publish = [...(script.publish ?? [])];
      deployment = [...(script.deployment ?? [{ status: 4, status_text: "Deployment successful." }])];
      sync = [...(script.sync ?? [204])];
      listFunctions = [...(script.listFunctions ?? [200])];
      unsynced = script.unsynced ?? "warmup-only";
      deployedFunctions = script.deployedFunctions === undefined ? DEPLOYED_FUNCTIONS : script.deployedFunctions;
      deployedAt = undefined;
      synced = false;
      seen.length = 0;
    },
    stop: server.stop,
  };
}
