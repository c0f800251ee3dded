/** One line of the device benchmark: one API, one size, one approach, measured on the simulator. */
export interface DeviceBenchRow {
  api: string;
  ips: number;
  approach: 'relay' | 'per-ip';
  addRequests: number;
  removeRequests: number;
  addSimMs: number;
  removeSimMs: number;
}
