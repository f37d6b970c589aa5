// A node-opcua server for the simulators: one namespace of Boolean/Double variables under folders
// named after the dotted node ids (`s=Bms.S1.M1.C1.TempC` sits in Bms/S1/M1/C1), its own
// certificate, users with passwords or certificates, and values pushed with source timestamps.
import { copyFile, mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCode,
  StatusCodes,
  Variant,
  type INamespace,
  type UAObject,
  type UAVariable,
} from "node-opcua";

export interface SimNode {
  /** Relative node id, `s=<dotted.path>`: the last segment is the variable, the others its folders. */
  readonly node: string;
  readonly dataType: "Boolean" | "Double";
  readonly description?: string;
}

export interface SimUser {
  readonly username: string;
  readonly password: string;
}

export interface OpcuaSimServerOptions {
  /** 0 = an ephemeral port, read back from `port`. */
  readonly port: number;
  /** The server's own PKI (own/, trusted/, rejected/); created with a certificate on first start. */
  readonly pkiDir: string;
  readonly namespaceUri: string;
  readonly nodes: readonly SimNode[];
  readonly users: readonly SimUser[];
  /** X.509 user certificates (PEM files) the server accepts as user identities. */
  readonly userCertificateFiles?: readonly string[];
  /** Also offer security mode None and anonymous sessions (default true: a simulator is for tests). */
  readonly allowInsecure?: boolean;
}

export type SimValue = number | boolean;

export interface OpcuaSimServer {
  readonly port: number;
  readonly endpoint: string;
  /** The server's application instance certificate (PEM), for trusting it in a client's PKI. */
  readonly certificateFile: string;
  /** Set a value with its source time; nothing is sent when neither value nor status changed. */
  set(node: string, value: SimValue, sourceTs: number): void;
  /** Give a node a bad or uncertain status (a failed sensor) that holds until setStatus(node, Good). */
  setStatus(node: string, status: StatusCode, sourceTs: number): void;
  stop(): Promise<void>;
}

interface Slot {
  readonly variable: UAVariable;
  readonly dataType: DataType;
  value: SimValue | undefined;
  status: StatusCode;
  /** A status forced by setStatus: the model's values are kept but not published while it holds. */
  forced?: StatusCode;
}

export async function startOpcuaSimServer(opts: OpcuaSimServerOptions): Promise<OpcuaSimServer> {
  const insecure = opts.allowInsecure ?? true;
  const serverCertificateManager = new OPCUACertificateManager({ rootFolder: join(opts.pkiDir, "server"), automaticallyAcceptUnknownCertificate: true, disableFileWatchers: true });
  const userCertificateManager = new OPCUACertificateManager({ rootFolder: join(opts.pkiDir, "users"), automaticallyAcceptUnknownCertificate: false, disableFileWatchers: true });
  await userCertificateManager.initialize();
  for (const file of opts.userCertificateFiles ?? []) {
    const dir = join(opts.pkiDir, "users", "trusted", "certs");
    await mkdir(dir, { recursive: true });
    await copyFile(file, join(dir, basename(file)));
  }
  const users = new Map(opts.users.map((u) => [u.username, u.password]));
  const server = new OPCUAServer({
    port: opts.port,
    hostname: "127.0.0.1",
    serverCertificateManager,
    userCertificateManager,
    securityModes: [...(insecure ? [MessageSecurityMode.None] : []), MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
    securityPolicies: [...(insecure ? [SecurityPolicy.None] : []), SecurityPolicy.Basic256Sha256, SecurityPolicy.Aes128_Sha256_RsaOaep],
    allowAnonymous: insecure,
    userManager: { isValidUser: (username: string, password: string) => users.get(username) === password },
    buildInfo: { productName: "firebreak OPC UA simulator", manufacturerName: "firebreak" },
    disableDiscovery: true,
    // Room for a few thousand monitored items per subscription (the benchmark's ~3,000).
    serverCapabilities: { maxSessions: 20, maxMonitoredItems: 100_000, maxMonitoredItemsPerSubscription: 20_000, operationLimits: { maxMonitoredItemsPerCall: 10_000 } },
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace;
  if (addressSpace === null) throw new Error("node-opcua server has no address space after initialize()");
  const ns = addressSpace.registerNamespace(opts.namespaceUri);
  const slots = new Map<string, Slot>();
  const folders = new Map<string, UAObject>();
  const objectsFolder = addressSpace.rootFolder.objects;
  const folderFor = (path: readonly string[]): UAObject => {
    if (path.length === 0) return objectsFolder;
    const key = path.join(".");
    let f = folders.get(key);
    if (f === undefined) {
      f = ns.addObject({ organizedBy: folderFor(path.slice(0, -1)), browseName: path[path.length - 1]!, nodeId: `s=${key}`, typeDefinition: "FolderType" });
      folders.set(key, f);
    }
    return f;
  };
  for (const n of opts.nodes) addVariable(ns, n, folderFor, slots);
  await server.start();
  const port = server.endpoints[0]?.port ?? opts.port;
  const certificateFile = join(opts.pkiDir, "server", "own", "certs", "certificate.pem");

  return {
    port,
    endpoint: `opc.tcp://127.0.0.1:${port}`,
    certificateFile: server.certificateFile ?? certificateFile,
    set(node, value, sourceTs) {
      const s = slots.get(node);
      if (s === undefined) throw new RangeError(`the simulator has no node ${node}`);
      if ((s.value === value && s.status === StatusCodes.Good) || s.forced !== undefined) {
        s.value = value;
        return;
      }
      s.value = value;
      s.status = StatusCodes.Good;
      s.variable.setValueFromSource(new Variant({ dataType: s.dataType, value }), StatusCodes.Good, new Date(sourceTs));
    },
    setStatus(node, status, sourceTs) {
      const s = slots.get(node);
      if (s === undefined) throw new RangeError(`the simulator has no node ${node}`);
      s.status = status;
      s.forced = status === StatusCodes.Good ? undefined : status;
      s.variable.setValueFromSource(new Variant({ dataType: s.dataType, value: s.value ?? (s.dataType === DataType.Boolean ? false : 0) }), status, new Date(sourceTs));
    },
    async stop() {
      await server.shutdown(0);
      await serverCertificateManager.dispose();
      await userCertificateManager.dispose();
    },
  };
}

function addVariable(ns: INamespace, n: SimNode, folderFor: (path: readonly string[]) => UAObject, slots: Map<string, Slot>): void {
  if (!n.node.startsWith("s=")) throw new RangeError(`simulator node ids are strings (s=…), got ${n.node}`);
  const path = n.node.slice(2).split(".");
  const dataType = n.dataType === "Boolean" ? DataType.Boolean : DataType.Double;
  const variable = ns.addVariable({
    componentOf: folderFor(path.slice(0, -1)),
    browseName: path[path.length - 1]!,
    nodeId: n.node,
    dataType: n.dataType,
    ...(n.description !== undefined ? { description: n.description } : {}),
    // Until the model's first step, a value is "waiting for initial data", never a silent 0.
    value: new Variant({ dataType, value: dataType === DataType.Boolean ? false : 0 }),
  });
  variable.setValueFromSource(new Variant({ dataType, value: dataType === DataType.Boolean ? false : 0 }), StatusCodes.BadWaitingForInitialData);
  slots.set(n.node, { variable, dataType, value: undefined, status: StatusCodes.BadWaitingForInitialData });
}
