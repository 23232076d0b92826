// One named part of an exit's modelled cost; both machines' cost models (x86/cost.ts,
// arm64/cost.ts) are lists of these. An exit stores only its cycles (and what handling added);
// its parts are computed from the model when shown, as `cost.<key>` fields (the exit schemas).

export interface CostComponent {
  /** Short field name: vm_exit, vm_entry, trap, el1_switch, kvm_exit_path, handler, ... */
  key: string;
  name: string;
  cycles: number;
  /** Where the figure comes from (a paper, or "estimate"). */
  source: string;
}

export interface ExitCost {
  cycles: number;
  components: CostComponent[];
}

/** An exit's cost from its parts. */
export function totalCost(components: CostComponent[]): ExitCost {
  return { cycles: components.reduce((a, c) => a + c.cycles, 0), components };
}
