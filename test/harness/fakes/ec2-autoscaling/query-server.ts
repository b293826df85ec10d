/**
 * `FakeAws` over HTTP. The attacher runs in a child process with its own bundled SDK, which
 * in-process mocks cannot reach, so `FakeAwsEndpoint` serves the fake on 127.0.0.1 in the EC2 Query
 * and Auto Scaling (awsQuery) protocols, as much as the attacher calls; the artifact finds it
 * through AWS_ENDPOINT_URL. In-process tests bind the same fake to `aws-sdk-client-mock` instead.
 */
import { randomUUID } from "node:crypto";
import type * as http from "node:http";
import type { RecordLifecycleActionHeartbeatType } from "@aws-sdk/client-auto-scaling";
import type { Instance, NetworkInterface } from "@aws-sdk/client-ec2";
import type { AfterAttachInput } from "../../../../runtime/persistent-eni-asg/contract";
import { type LoopbackServer, listenOnLoopback } from "../../../../testing/loopback-server";
import { FAKE_REGION, type FakeAws, FakeAwsError } from "./world";

type XmlValue = string | number | boolean | undefined | null | XmlValue[] | { [name: string]: XmlValue };

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** `<name>value</name>`; a list wraps each element in `<item>` (EC2) or `<member>` (Auto Scaling). */
function xml(name: string, value: XmlValue, listElement: string): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return `<${name}>${value.map((v) => xml(listElement, v, listElement)).join("")}</${name}>`;
  if (typeof value === "object") return `<${name}>${fields(value, listElement)}</${name}>`;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

function fields(value: { [name: string]: XmlValue }, listElement: string): string {
  return Object.entries(value)
    .map(([name, v]) => xml(name, v, listElement))
    .join("");
}

/** `Name.1`, `Name.2`, ... (EC2) or `Name.member.1`, ... (Auto Scaling) */
function queryList(params: URLSearchParams, prefix: string): string[] {
  const values: string[] = [];
  for (let i = 1; params.has(`${prefix}.${i}`); i++) values.push(params.get(`${prefix}.${i}`) ?? "");
  return values;
}

function queryFilters(params: URLSearchParams): { Name: string; Values: string[] }[] {
  const filters: { Name: string; Values: string[] }[] = [];
  for (let i = 1; params.has(`Filter.${i}.Name`); i++) {
    filters.push({ Name: params.get(`Filter.${i}.Name`) ?? "", Values: queryList(params, `Filter.${i}.Value`) });
  }
  return filters;
}

function ec2Instance(instance: Instance): XmlValue {
  return {
    instanceId: instance.InstanceId,
    instanceState: { code: instance.State?.Code, name: instance.State?.Name },
    placement: { availabilityZone: instance.Placement?.AvailabilityZone },
    tagSet: (instance.Tags ?? []).map((tag) => ({ key: tag.Key, value: tag.Value })),
  };
}

function ec2NetworkInterface(eni: NetworkInterface): XmlValue {
  const attachment = eni.Attachment;
  return {
    networkInterfaceId: eni.NetworkInterfaceId,
    subnetId: eni.SubnetId,
    availabilityZone: eni.AvailabilityZone,
    description: eni.Description,
    status: eni.Status,
    privateIpAddress: eni.PrivateIpAddress,
    attachment: attachment && {
      attachmentId: attachment.AttachmentId,
      instanceId: attachment.InstanceId,
      deviceIndex: attachment.DeviceIndex,
      status: attachment.Status,
      deleteOnTermination: attachment.DeleteOnTermination,
    },
  };
}

/** Where `reportAfterAttach` posts; the endpoint records the call (and fails it while `afterAttachFails`). */
export const AFTER_ATTACH_PATH = "/after-attach";

type QueryHandler = (world: FakeAws, params: URLSearchParams) => { [name: string]: XmlValue };

const EC2_VERSION = "2016-11-15";
const AUTO_SCALING_VERSION = "2011-01-01";

const EC2_HANDLERS: Record<string, QueryHandler> = {
  DescribeInstances: (world, params) => ({
    reservationSet: (world.describeInstances({ InstanceIds: queryList(params, "InstanceId") }).Reservations ?? []).map(
      (reservation) => ({
        reservationId: reservation.ReservationId,
        ownerId: reservation.OwnerId,
        instancesSet: (reservation.Instances ?? []).map(ec2Instance),
      }),
    ),
  }),
  DescribeNetworkInterfaces: (world, params) => ({
    networkInterfaceSet: (
      world.describeNetworkInterfaces({
        NetworkInterfaceIds: queryList(params, "NetworkInterfaceId"),
        Filters: queryFilters(params),
        MaxResults: params.has("MaxResults") ? Number(params.get("MaxResults")) : undefined,
      }).NetworkInterfaces ?? []
    ).map(ec2NetworkInterface),
  }),
  AttachNetworkInterface: (world, params) => {
    const result = world.attachNetworkInterface({
      NetworkInterfaceId: params.get("NetworkInterfaceId") ?? undefined,
      InstanceId: params.get("InstanceId") ?? undefined,
      DeviceIndex: params.has("DeviceIndex") ? Number(params.get("DeviceIndex")) : undefined,
    });
    return { attachmentId: result.AttachmentId, networkCardIndex: result.NetworkCardIndex };
  },
  DetachNetworkInterface: (world, params) => {
    world.detachNetworkInterface({
      AttachmentId: params.get("AttachmentId") ?? undefined,
      Force: params.get("Force") === "true",
    });
    return { return: true };
  },
};

const AUTO_SCALING_HANDLERS: Record<string, QueryHandler> = {
  DescribeAutoScalingInstances: (world, params) => ({
    AutoScalingInstances: (
      world.describeAutoScalingInstances({ InstanceIds: queryList(params, "InstanceIds.member") })
        .AutoScalingInstances ?? []
    ).map((member) => ({
      InstanceId: member.InstanceId,
      InstanceType: member.InstanceType,
      AutoScalingGroupName: member.AutoScalingGroupName,
      AvailabilityZone: member.AvailabilityZone,
      LifecycleState: member.LifecycleState,
      HealthStatus: member.HealthStatus,
      ProtectedFromScaleIn: member.ProtectedFromScaleIn,
    })),
  }),
  CompleteLifecycleAction: (world, params) => {
    world.completeLifecycleAction({
      ...lifecycleParams(params),
      LifecycleActionResult: params.get("LifecycleActionResult") ?? undefined,
    });
    return {};
  },
  RecordLifecycleActionHeartbeat: (world, params) => {
    world.recordLifecycleActionHeartbeat(lifecycleParams(params));
    return {};
  },
};

function lifecycleParams(params: URLSearchParams): RecordLifecycleActionHeartbeatType {
  return {
    AutoScalingGroupName: params.get("AutoScalingGroupName") ?? "",
    LifecycleHookName: params.get("LifecycleHookName") ?? "",
    LifecycleActionToken: params.get("LifecycleActionToken") ?? undefined,
    InstanceId: params.get("InstanceId") ?? undefined,
  };
}

/** Serves a `FakeAws` on 127.0.0.1 for SDK clients pointed at it with AWS_ENDPOINT_URL. */
export class FakeAwsEndpoint {
  private constructor(
    private readonly server: LoopbackServer,
    public world: FakeAws,
  ) {}

  static async start(world: FakeAws): Promise<FakeAwsEndpoint> {
    // Requests arrive only after start() returns, when `endpoint` exists.
    const server = await listenOnLoopback((request, body, response) =>
      endpoint.answer(request.url ?? "/", body, response),
    );
    const endpoint = new FakeAwsEndpoint(server, world);
    return endpoint;
  }

  get url(): string {
    return this.server.url;
  }

  /** Environment for a function process whose SDK clients should talk to this endpoint. */
  env(): Record<string, string> {
    return {
      AWS_REGION: FAKE_REGION,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_ENDPOINT_URL: this.url,
    };
  }

  close(): Promise<void> {
    return this.server.stop();
  }

  private answer(path: string, body: string, response: http.ServerResponse): void {
    if (path === AFTER_ATTACH_PATH) {
      this.world.afterAttachCalls.push(JSON.parse(body) as AfterAttachInput);
      response.writeHead(this.world.afterAttachFails ? 500 : 204).end();
      return;
    }
    const params = new URLSearchParams(body);
    const action = params.get("Action") ?? "";
    const isEc2 = params.get("Version") === EC2_VERSION;
    const handler = (
      isEc2 ? EC2_HANDLERS : params.get("Version") === AUTO_SCALING_VERSION ? AUTO_SCALING_HANDLERS : {}
    )[action];
    const requestId = randomUUID();
    const send = (status: number, xmlBody: string) =>
      response
        .writeHead(status, { "content-type": "text/xml" })
        .end(`<?xml version="1.0" encoding="UTF-8"?>\n${xmlBody}`);
    try {
      if (!handler)
        throw new FakeAwsError(
          "InvalidAction",
          `The fake does not serve ${action} (version ${params.get("Version")}).`,
        );
      const result = handler(this.world, params);
      if (isEc2) {
        send(
          200,
          `<${action}Response xmlns="http://ec2.amazonaws.com/doc/${EC2_VERSION}/"><requestId>${requestId}</requestId>${fields(result, "item")}</${action}Response>`,
        );
      } else {
        send(
          200,
          `<${action}Response xmlns="http://autoscaling.amazonaws.com/doc/${AUTO_SCALING_VERSION}/"><${action}Result>${fields(result, "member")}</${action}Result>` +
            `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
        );
      }
    } catch (error) {
      const failure = error instanceof FakeAwsError ? error : new FakeAwsError("InternalError", String(error), 500);
      const detail = `<Code>${escapeXml(failure.code)}</Code><Message>${escapeXml(failure.message)}</Message>`;
      if (isEc2) {
        send(
          failure.status,
          `<Response><Errors><Error>${detail}</Error></Errors><RequestID>${requestId}</RequestID></Response>`,
        );
      } else {
        const type = failure.status >= 500 ? "Receiver" : "Sender";
        send(
          failure.status,
          `<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/${AUTO_SCALING_VERSION}/"><Error><Type>${type}</Type>${detail}</Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        );
      }
    }
  }
}
