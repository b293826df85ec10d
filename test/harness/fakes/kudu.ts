/**
 * A Flex Consumption app as one deploy sees it, on 127.0.0.1: its SCM (Kudu) host, its Functions
 * host admin API and the ARM call that lists its host keys, answering the way the sources below
 * document or report, driven by a scripted sequence per endpoint and a fake clock.
 *
 * - `POST /api/publish` answers 202 with the new deployment's id as a quoted string (azd #3658;
 *   az CLI's `enable_zip_deploy_flex` logs the body as the deployment id), or a scripted refusal:
 *   403 and 400 `BlobUploadFailedException` while role assignments propagate (azd #4439, endjin
 *   ZeroFailed), 409 while another deployment runs.
 * - `GET /api/deployments/latest` shows the previous deployment until Kudu switches to the new one
 *   (azure-cli PR #20261); `GET /api/deployments/<id>` shows that deployment: status 0..2 in
 *   progress, 3 failed, 4 success (Kudu's DeployStatus), or 404 while it is not (or no longer) known.
 * - `POST <site id>/host/default/listKeys` returns `{ masterKey, functionKeys, systemKeys }`
 *   (https://learn.microsoft.com/rest/api/appservice/web-apps/list-host-keys).
 * - `GET /admin/host/status` with `x-functions-key: <master key>` returns `{ id, state, version,
 *   processUptime, errors }` (https://github.com/Azure/azure-functions-host/wiki/Admin-API; HostStatus.cs).
 */
import type * as http from "node:http";
import { listenOnLoopback } from "../loopback-server";

export interface DeploymentRecord {
  id?: string;
  status: number;
  status_text?: string;
  log_url?: string;
}

/** One answer of the host status endpoint: the old process, a process started after the deployment, an error state, or no host. */
export type HostAnswer = "old-process" | "new-process" | { state: string; errors?: string[] } | 503;

export interface KuduScript {
  /** Answers of POST /api/publish in turn; once they run out, 202 with a new deployment id. */
  publish?: { status: number; body: string }[];
  /** What GET /api/deployments/<new id> shows, in turn (null: 404); the last one repeats. */
  deployment?: (Omit<DeploymentRecord, "id"> | null)[];
  /** What the host status endpoint answers, in turn; the last one repeats. */
  host?: HostAnswer[];
  /** The statuses of the ARM host keys listing, in turn (200 with the keys); the last one repeats. */
  listKeys?: number[];
}

export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export const MASTER_KEY = "master-key-from-arm";
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
  let host: HostAnswer[] = [];
  let listKeys: number[] = [];
  let deployedAt: number | undefined;
  let hostRestartedAt: number | undefined;
  const seen: SeenRequest[] = [];
  const next = <T>(list: T[]): T | undefined => (list.length > 1 ? list.shift() : list[0]);
  const json = (response: http.ServerResponse, status: number, value: unknown) =>
    response.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(value));

  const server = await listenOnLoopback((request, body, response) => {
    const path = (request.url ?? "").split("?")[0];
    seen.push({ method: request.method ?? "", path, headers: request.headers, body, at: clock.now() });
    if (request.method === "POST" && path === "/api/publish") {
      const refusal = publish?.shift();
      if (refusal) return void response.writeHead(refusal.status).end(refusal.body);
      deployedAt = clock.now();
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
    if (request.method === "POST" && path === `${SITE_ID}/host/default/listKeys`) {
      const status = next(listKeys) ?? 200;
      if (status !== 200) return void json(response, status, { error: { code: "AuthorizationFailed" } });
      return void json(response, 200, { masterKey: MASTER_KEY, functionKeys: {}, systemKeys: {} });
    }
    if (request.method === "GET" && path === "/admin/host/status") {
      if (request.headers["x-functions-key"] !== MASTER_KEY) return void response.writeHead(401).end();
      const answer = next(host) ?? "new-process";
      if (answer === 503) return void response.writeHead(503).end("Function host is not running.");
      if (answer === "old-process") {
        // Started long before the package was posted.
        return void json(response, 200, { id: "app", state: "Running", version: "4.1044.0", processUptime: 3_600_000 });
      }
      if (answer === "new-process") {
        hostRestartedAt ??= clock.now();
        return void json(response, 200, {
          id: "app",
          state: "Running",
          version: "4.1044.0",
          processUptime: clock.now() - hostRestartedAt,
        });
      }
      return void json(response, 200, { id: "app", version: "4.1044.0", processUptime: 1000, ...answer });
    }
    response.writeHead(404).end();
  });
  return {
    url: server.url,
    seen,
    play(script) {
      publish = [...(script.publish ?? [])];
      deployment = [...(script.deployment ?? [{ status: 4, status_text: "Deployment successful." }])];
      host = [...(script.host ?? ["new-process"])];
      listKeys = [...(script.listKeys ?? [200])];
      deployedAt = undefined;
      hostRestartedAt = undefined;
      seen.length = 0;
    },
    stop: server.stop,
  };
}
