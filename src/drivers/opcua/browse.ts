// Walks a server's address space for commissioning (`firebreak opcua browse`): objects and
// variables under a start node, with node ids as a profile writes them (namespace URI + relative
// id), data types and current values, so a profile can be written from what the server shows.
import {
  AttributeIds,
  BrowseDirection,
  DataType,
  NodeClass,
  NodeId,
  NodeIdType,
  coerceNodeId,
  resolveNodeId,
  type ClientSession,
  type ReferenceDescription,
} from "node-opcua";
import { numericValue } from "./quality.js";

export interface BrowsedNode {
  readonly depth: number;
  /** Absolute node id as the server states it, e.g. `ns=2;s=Bms.SoC`. */
  readonly nodeId: string;
  readonly namespaceUri: string;
  /** The node id without `ns=`, as a profile's `node:` holds it, e.g. `s=Bms.SoC`. */
  readonly relative: string;
  readonly browseName: string;
  readonly nodeClass: "Object" | "Variable";
  readonly dataType?: string;
  readonly value?: string;
  readonly status?: string;
}

export interface BrowseOptions {
  /** Start node (absolute, e.g. `ns=2;s=Bms` or `i=85`); default the Objects folder. */
  readonly start?: string;
  /** Levels below the start node (default 4). */
  readonly depth?: number;
  /** Stop after this many nodes, so a 10,000-cell BMS does not flood a terminal (default 2000). */
  readonly limit?: number;
}

const READ_CHUNK = 500;

export async function browseAddressSpace(session: ClientSession, opts: BrowseOptions = {}): Promise<{ nodes: BrowsedNode[]; namespaces: string[]; truncated: boolean }> {
  const namespaces = await session.readNamespaceArray();
  const maxDepth = opts.depth ?? 4;
  const limit = opts.limit ?? 2000;
  const nodes: { depth: number; ref: ReferenceDescription }[] = [];
  let truncated = false;
  const walk = async (id: NodeId, depth: number): Promise<void> => {
    if (depth > maxDepth || truncated) return;
    for (const ref of await children(session, id)) {
      if (nodes.length >= limit) {
        truncated = true;
        return;
      }
      nodes.push({ depth, ref });
      // Standard-namespace internals (Server object, types) are not what a profile reads.
      const child = ref.nodeId as unknown as NodeId;
      if (ref.nodeClass === NodeClass.Object && child.namespace !== 0) await walk(child, depth + 1);
    }
  };
  await walk(opts.start !== undefined ? coerceNodeId(opts.start) : resolveNodeId("ObjectsFolder"), 0);
  const variables = nodes.map((n, i) => ({ n, i })).filter((x) => x.n.ref.nodeClass === NodeClass.Variable);
  const details = new Map<number, { dataType?: string; value?: string; status?: string }>();
  for (let start = 0; start < variables.length; start += READ_CHUNK) {
    const chunk = variables.slice(start, start + READ_CHUNK);
    const reads = chunk.flatMap((v) => {
      const nodeId = v.n.ref.nodeId as unknown as NodeId;
      return [
        { nodeId, attributeId: AttributeIds.Value },
        { nodeId, attributeId: AttributeIds.DataType },
      ];
    });
    const out = await session.read(reads);
    chunk.forEach((v, k) => {
      const value = out[2 * k]!;
      const type = out[2 * k + 1]!.value.value as unknown;
      details.set(v.i, {
        ...(type instanceof NodeId ? { dataType: dataTypeName(type) } : {}),
        ...(value.statusCode.isGood() ? { value: show(value.value.value as unknown) } : { status: value.statusCode.name }),
      });
    });
  }
  return {
    namespaces,
    truncated,
    nodes: nodes.map(({ depth, ref }, i) => {
      const id = ref.nodeId as unknown as NodeId;
      return {
        depth,
        nodeId: id.toString(),
        namespaceUri: namespaces[id.namespace] ?? `ns=${id.namespace}`,
        relative: relativeId(id),
        browseName: ref.browseName.name ?? "",
        nodeClass: ref.nodeClass === NodeClass.Variable ? "Variable" : "Object",
        ...details.get(i),
      };
    }),
  };
}

async function children(session: ClientSession, nodeId: NodeId): Promise<ReferenceDescription[]> {
  const refs: ReferenceDescription[] = [];
  let result = await session.browse({
    nodeId,
    referenceTypeId: "HierarchicalReferences",
    includeSubtypes: true,
    browseDirection: BrowseDirection.Forward,
    nodeClassMask: NodeClass.Object | NodeClass.Variable,
    resultMask: 0x3f,
  });
  refs.push(...(result.references ?? []));
  while (result.continuationPoint !== null && result.continuationPoint !== undefined && result.continuationPoint.length > 0) {
    result = await session.browseNext(result.continuationPoint, false);
    refs.push(...(result.references ?? []));
  }
  return refs;
}

/** `s=Bms.SoC`, `i=1001`, `g=…`, `b=…`: the part of a node id after `ns=<n>;`. */
export function relativeId(id: NodeId): string {
  switch (id.identifierType) {
    case NodeIdType.NUMERIC:
      return `i=${String(id.value)}`;
    case NodeIdType.STRING:
      return `s=${String(id.value)}`;
    case NodeIdType.GUID:
      return `g=${String(id.value)}`;
    case NodeIdType.BYTESTRING:
      return `b=${Buffer.isBuffer(id.value) ? id.value.toString("base64") : String(id.value)}`;
    default:
      return id.toString();
  }
}

function dataTypeName(id: NodeId): string {
  if (id.namespace === 0 && typeof id.value === "number") return DataType[id.value] ?? `i=${id.value}`;
  return id.toString();
}

function show(v: unknown): string {
  const n = numericValue(v);
  if (n !== undefined) return typeof v === "boolean" ? String(v) : String(Number.isInteger(n) ? n : Number(n.toPrecision(6)));
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return JSON.stringify(v);
  return typeof v === "object" && "toString" in v ? String(v as { toString(): string }) : typeof v;
}
