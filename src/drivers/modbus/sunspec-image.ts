// Lays out a SunSpec Li-ion register map (docs/sources.md#sunspec-map: "SunS", 802, one 804 per string, one 805
// per module, end marker) in a holding-register array, for the simulators and tests: the mirror
// of what ./sunspec.ts discovers. Values inside the models are left to the caller.
import { sunspecModelShape } from "../../config/profile-schema.js";
import type { Layout } from "../../config/types.js";

export interface SunspecImageMap {
  /** Address of the 802 instance's ID register. */
  readonly base802: number;
  /** Address of each string's 804 instance (index 0 = string 1). */
  readonly strings: readonly number[];
  /** Address of each module's 805 instance, key `${string}/${module}`. */
  readonly modules: ReadonlyMap<string, number>;
  /** Address of the end marker. */
  readonly end: number;
  /** Absolute address of an offset in 802. */
  at802(offset: number): number;
  /** Absolute address of an offset in string s's 804, or in module group m of it. */
  at804(s: number, offset: number, module?: number): number;
  /** Absolute address of an offset in module (s, m)'s 805, or in cell group c of it. */
  at805(s: number, m: number, offset: number, cell?: number): number;
}

/** Write marker, model headers and index registers from `base`. Returns where everything sits. */
export function writeSunspecImage(regs: Uint16Array, base: number, layout: Layout): SunspecImageMap {
  let a = base;
  regs[a++] = 0x5375; // "Su"
  regs[a++] = 0x6e53; // "nS"
  const header = (id: number, length: number): number => {
    const at = a;
    regs[at] = id;
    regs[at + 1] = length;
    a += 2 + length;
    return at;
  };
  const s802 = sunspecModelShape[802];
  const s804 = sunspecModelShape[804];
  const s805 = sunspecModelShape[805];
  const base802 = header(802, s802.fixed - 2);
  regs[base802 + 21] = 4; // Typ: Li-ion
  const strings: number[] = [];
  for (let s = 1; s <= layout.strings; s++) {
    const at = header(804, s804.fixed - 2 + s804.group * layout.modulesPerString);
    regs[at + 2] = s; // Idx
    regs[at + 3] = layout.modulesPerString; // NMod
    strings.push(at);
  }
  const modules = new Map<string, number>();
  for (let s = 1; s <= layout.strings; s++)
    for (let m = 1; m <= layout.modulesPerString; m++) {
      const at = header(805, s805.fixed - 2 + s805.group * layout.cellsPerModule);
      regs[at + 2] = s; // StrIdx
      regs[at + 3] = m; // ModIdx
      regs[at + 4] = layout.cellsPerModule; // NCell
      modules.set(`${s}/${m}`, at);
    }
  const end = a;
  regs[end] = 0xffff;
  regs[end + 1] = 0;
  const need = (v: number | undefined, what: string): number => {
    if (v === undefined) throw new RangeError(`no ${what} in this image`);
    return v;
  };
  return {
    base802,
    strings,
    modules,
    end,
    at802: (offset) => base802 + offset,
    at804: (s, offset, module) => need(strings[s - 1], `string ${s}`) + (module === undefined ? offset : s804.fixed + (module - 1) * s804.group + offset),
    at805: (s, m, offset, cell) => need(modules.get(`${s}/${m}`), `module s${s}/m${m}`) + (cell === undefined ? offset : s805.fixed + (cell - 1) * s805.group + offset),
  };
}
