/** What the bench reads from /proc: CPU time of a process (or of a process and everything it forked), memory. */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_US = 1e6 / 100; // /proc/<pid>/stat counts in clock ticks (USER_HZ, 100 on Linux)

/** Fields of /proc/<pid>/stat after the command name: [0] is state, [1] ppid, [11..14] utime stime cutime cstime. */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(') ') + 2).split(' ');
  } catch {
    return undefined; // gone
  }
}

/** Process CPU time (user + system) in microseconds; throws when the process is gone. */
export function cpuMicros(pid: number): number {
  const f = statFields(pid);
  if (!f) throw new Error(`process ${pid} is gone`);
  return (Number(f[11]) + Number(f[12])) * TICK_US;
}

/**
 * CPU time of a process and all it ever forked: its own, its reaped children's (cutime/cstime, counted by the
 * kernel when it waits for them, as the postmaster does for every backend) and its live children's. Monotone
 * across samples even though backends come and go. Grandchildren of live children are not walked (PostgreSQL's
 * backends fork none).
 */
export function treeCpuMicros(pid: number): number {
  const f = statFields(pid);
  if (!f) throw new Error(`process ${pid} is gone`);
  let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = statFields(Number(entry));
    if (child && Number(child[1]) === pid) ticks += Number(child[11]) + Number(child[12]);
  }
  return ticks * TICK_US;
}

function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : NaN;
}

export const peakRssMb = (pid: number) => Math.round(statusKb(pid, 'VmHWM') / 1024);
export const rssMb = (pid: number) => statusKb(pid, 'VmRSS') / 1024;

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

export function cpuModel(): string {
  return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim() ?? 'unknown';
}

export function memTotalGb(): number {
  const kb = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
  return Math.round((kb / 1024 / 1024) * 10) / 10;
}
