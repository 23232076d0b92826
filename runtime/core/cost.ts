// One named part of an exit's modelled cost; both machines' cost models (x86/cost.ts,
// arm64/cost.ts) are lists of these, and each exit carries its parts as `cost.<key>` fields.

export interface CostComponent {
  /** Short field name: vm_exit, vm_entry, trap, el1_switch, kvm_exit_path, handler, ... */
  key: string;
  name: string;
  cycles: number;
  /** Where the figure comes from (a paper, or "estimate"). */
  source: string;
}
