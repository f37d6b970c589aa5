// What the driver asks the server for and what it takes from the answer: monitoring parameters
// (sampling, queue, deadband filter) per point, and node-opcua DataValues as plain samples.
import { DataChangeFilter, DataChangeTrigger, DeadbandType, type DataValue } from "node-opcua";
import type { OpcuaDevicePoint } from "../../config/types.js";
import type { PointLimits, RawSample } from "./quality.js";

/** Key of the points that can share one CreateMonitoredItems call (same parameters). */
export function parametersKey(p: OpcuaDevicePoint): string {
  return `${p.samplingIntervalMs}/${p.queueSize}/${p.deadband?.type ?? ""}/${p.deadband?.value ?? ""}`;
}

export function filterOf(p: OpcuaDevicePoint): { filter?: DataChangeFilter } {
  if (p.deadband === undefined || p.deadband.value === 0) return {};
  return {
    filter: new DataChangeFilter({
      trigger: DataChangeTrigger.StatusValue,
      deadbandType: p.deadband.type === "percent" ? DeadbandType.Percent : DeadbandType.Absolute,
      deadbandValue: p.deadband.value,
    }),
  };
}

export function limitsOf(p: OpcuaDevicePoint): PointLimits {
  return p.def.range !== undefined ? { range: p.def.range, sentinels: p.def.sentinels } : { sentinels: p.def.sentinels };
}

export function rawSample(dv: DataValue): RawSample {
  const sourceTs = dv.sourceTimestamp?.getTime();
  const serverTs = dv.serverTimestamp?.getTime();
  return {
    statusCode: dv.statusCode.value,
    statusName: dv.statusCode.name,
    value: dv.value.value as unknown,
    ...(sourceTs !== undefined && !Number.isNaN(sourceTs) && sourceTs > 0 ? { sourceTs } : {}),
    ...(serverTs !== undefined && !Number.isNaN(serverTs) && serverTs > 0 ? { serverTs } : {}),
  };
}
