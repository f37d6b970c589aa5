import { describe, expect, it } from "vitest";
import { numericValue, reasonOf, severityOf, toPointValue, type RawSample } from "../../src/drivers/opcua/quality.js";

const sample = (s: Partial<RawSample>): RawSample => ({ statusCode: 0, statusName: "Good", value: 21.5, sourceTs: 1_000, serverTs: 2_000, ...s });
const limits = { range: [-50, 800] as const, sentinels: [-32768] };

describe("OPC UA status and value -> point quality", () => {
  it.each([
    [0x00000000, "good"],
    [0x00300000, "good"], // GoodClamped
    [0x40900000, "uncertain"], // UncertainLastUsableValue
    [0x808c0000, "bad"], // BadSensorFailure
    [0x80320000, "bad"], // BadWaitingForInitialData
  ] as const)("status code %d has severity %s", (code, sev) => {
    expect(severityOf(code)).toBe(sev);
  });

  it.each([
    ["BadSensorFailure", "device_exception"],
    ["BadCommunicationError", "comm_fail"],
    ["BadNotConnected", "comm_fail"],
    ["BadTimeout", "timeout"],
    ["BadWaitingForInitialData", "stale"],
    ["UncertainLastUsableValue", "stale"],
    ["BadOutOfRange", "out_of_range"],
    ["UncertainEngineeringUnitsExceeded", "out_of_range"],
    ["BadNodeIdUnknown", "config"],
    ["BadUserAccessDenied", "config"],
    ["BadSomethingNew", "device_exception"],
  ] as const)("%s becomes reason %s", (name, reason) => {
    expect(reasonOf(name)).toBe(reason);
  });

  it("a Good value keeps its source timestamp, not the time it was received", () => {
    expect(toPointValue(sample({}), limits, 9_999)).toEqual({ value: 21.5, quality: "good", sourceTs: 1_000 });
  });

  it("without a source timestamp the server's is used, then the receive time", () => {
    expect(toPointValue(sample({ sourceTs: undefined }), limits, 9_999).sourceTs).toBe(2_000);
    expect(toPointValue(sample({ sourceTs: undefined, serverTs: undefined }), limits, 9_999).sourceTs).toBe(9_999);
  });

  it("a Bad status is bad with no value and the status name in the detail, never a number", () => {
    const v = toPointValue(sample({ statusCode: 0x808c0000, statusName: "BadSensorFailure", value: 0 }), limits, 0);
    expect(v).toMatchObject({ value: null, quality: "bad", reason: "device_exception" });
    expect(v.detail).toBe("status BadSensorFailure (0x808c0000)");
  });

  it("an Uncertain status keeps the value, marked uncertain with its reason", () => {
    const v = toPointValue(sample({ statusCode: 0x40900000, statusName: "UncertainLastUsableValue" }), limits, 0);
    expect(v).toMatchObject({ value: 21.5, quality: "uncertain", reason: "stale" });
    expect(v.detail).toContain("UncertainLastUsableValue");
  });

  it("a stuck-high reading outside the profile's range is bad/out_of_range, a sentinel bad/sentinel, NaN bad/sentinel", () => {
    expect(toPointValue(sample({ value: 900 }), limits, 0)).toMatchObject({ quality: "bad", reason: "out_of_range" });
    expect(toPointValue(sample({ value: -32768 }), limits, 0)).toMatchObject({ quality: "bad", reason: "sentinel" });
    expect(toPointValue(sample({ value: Number.NaN }), limits, 0)).toMatchObject({ quality: "bad", reason: "sentinel" });
    expect(toPointValue(sample({ value: Number.POSITIVE_INFINITY }), { sentinels: [] }, 0)).toMatchObject({ quality: "bad", reason: "out_of_range" });
  });

  it("Booleans read 0/1; a string node is a profile mistake, bad/config", () => {
    expect(toPointValue(sample({ value: true }), { sentinels: [] }, 0)).toMatchObject({ quality: "good", value: 1 });
    expect(toPointValue(sample({ value: "21.5" }), { sentinels: [] }, 0)).toMatchObject({ quality: "bad", reason: "config" });
    expect(numericValue([1, 5])).toBe(2 ** 32 + 5);
  });
});
