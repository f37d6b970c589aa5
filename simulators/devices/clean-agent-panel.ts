// A clean-agent releasing panel as config/profiles/clean-agent-panel.yaml reads it: discrete inputs
// 0–8 (armed … trouble) and holding 0 (countdown s). States per docs/sources.md#panel-states (Kidde ARIES-style).
import type { Device } from "../../src/config/types.js";
import type { RegisterBank } from "../modbus-server.js";
import { declarePlain, locatePlain, u16, type DeviceEncoder } from "./encoder.js";

export const panelStates = ["normal", "pre_alarm", "pre_release", "abort_active", "released", "hold", "supervisory", "trouble"] as const;
export type PanelState = (typeof panelStates)[number];

/** Pre-release countdown, s: "e.g. 30 s" (docs/sources.md#panel-sequence). */
export const DEFAULT_COUNTDOWN_S = 30;

export interface PanelEncoder extends DeviceEncoder {
  /** Put the panel into a state at clock time nowMs; pre_release starts its countdown. */
  set(state: PanelState, nowMs: number, countdownS?: number): void;
  readonly state: PanelState;
}

export function cleanAgentPanel(device: Device): PanelEncoder {
  let state: PanelState = "normal";
  let countdownLeftMs = 0;
  let lastMs: number | undefined;

  function tick(nowMs: number): void {
    const dt = lastMs === undefined ? 0 : Math.max(0, nowMs - lastMs);
    lastMs = nowMs;
    if (state !== "pre_release") return; // abort_active holds the countdown where it is (UL 864 hold mode)
    countdownLeftMs -= dt;
    if (countdownLeftMs <= 0) {
      countdownLeftMs = 0;
      state = "released"; // countdown ran out: agent discharged, the pressure switch confirms
    }
  }

  return {
    get state() {
      return state;
    },
    set(next, nowMs, countdownS = DEFAULT_COUNTDOWN_S) {
      tick(nowMs);
      if (next === "pre_release" && state !== "abort_active") countdownLeftMs = countdownS * 1000;
      if (next === "normal") countdownLeftMs = 0;
      state = next;
    },
    encode(bank: RegisterBank, nowMs: number): void {
      tick(nowMs);
      const d = bank.discrete;
      const inSequence = state === "pre_alarm" || state === "pre_release" || state === "abort_active" || state === "released";
      d[0] = state === "trouble" ? 0 : 1; // armed
      d[1] = state === "hold" ? 0 : 1; // autoMode
      d[2] = state === "hold" ? 1 : 0; // manualOnly
      d[3] = inSequence ? 1 : 0; // preAlarm: first detector of the pair
      d[4] = state === "pre_release" || state === "abort_active" ? 1 : 0; // preRelease
      d[5] = state === "released" ? 1 : 0;
      d[6] = state === "abort_active" ? 1 : 0;
      d[7] = state === "supervisory" ? 1 : 0; // agent cylinder low pressure
      d[8] = state === "trouble" ? 1 : 0;
      bank.holding[0] = state === "pre_release" || state === "abort_active" ? u16(Math.ceil(countdownLeftMs / 1000)) : 0;
    },
    locate: (pointId) => locatePlain(device, pointId),
    declareMap: (bank) => declarePlain(device, bank),
  };
}
