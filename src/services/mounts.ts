/**
 * A container's mounts from what the CLI and Compose send: HostConfig.Binds (`-v src:dst[:mode]`),
 * HostConfig.Mounts (`--mount`), HostConfig.Tmpfs and Config.Volumes (anonymous volumes), with
 * Docker's checks and texts. Pure; they become binds in the container's mount namespace (its fstab).
 */
import { invalid } from '../errors.js';

export type MountSpec =
  /** createSource: `-v` makes a missing host directory, as Docker does; `--mount` refuses it */
  | { type: 'bind'; source: string; target: string; readOnly: boolean; mode: string; createSource: boolean }
  /** name: '' until an anonymous volume gets its name at create */
  | { type: 'volume'; name: string; target: string; readOnly: boolean; mode: string; anonymous: boolean }
  | { type: 'tmpfs'; target: string; options: string };

export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const MODES = new Set(['ro', 'rw', 'z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated', 'shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);

function checkPath(p: string, what: string): string {
  if (typeof p !== 'string' || !p.startsWith('/') || /[\0\n]/.test(p)) throw invalid(`invalid mount config: ${what} '${String(p)}' mount path must be absolute`);
  if (p.replace(/\/+$/, '') === '') throw invalid("invalid specification: destination can't be '/'");
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

export function checkVolumeName(name: string): void {
  if (name.length < 2 && /^[a-zA-Z0-9]$/.test(name)) throw invalid(`create ${name}: volume name is too short, names should be at least two alphanumeric characters`);
  if (name.length > 255) throw invalid(`create ${name.slice(0, 64)}…: a volume name is at most 255 characters (it names a directory)`);
  if (!VOLUME_NAME.test(name)) {
    throw invalid(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
}

function bindOf(spec: string): MountSpec {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) throw invalid(`invalid volume specification: '${spec}'`);
  const [source, target, mode = ''] = parts;
  for (const m of mode ? mode.split(',') : []) if (!MODES.has(m)) throw invalid(`invalid mode: ${mode}`);
  const readOnly = mode.split(',').includes('ro');
  const t = checkPath(target, 'destination');
  if (source.startsWith('/')) return { type: 'bind', source: checkPath(source, 'source'), target: t, readOnly, mode, createSource: true };
  checkVolumeName(source);
  return { type: 'volume', name: source, target: t, readOnly, mode, anonymous: false };
}

interface MountInput {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string; CreateMountpoint?: boolean } | null;
  VolumeOptions?: { NoCopy?: boolean; DriverConfig?: { Name?: string; Options?: Record<string, string> | null } | null } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null;
}

function mountOf(m: MountInput): MountSpec {
  if (!m || typeof m !== 'object') throw invalid('invalid mount config: expected an object');
  const target = checkPath(String(m.Target ?? ''), 'target');
  const readOnly = !!m.ReadOnly;
  switch (m.Type) {
    case 'bind':
      if (!m.Source) throw invalid('invalid mount config for type "bind": field Source must not be empty');
      return { type: 'bind', source: checkPath(m.Source, 'source'), target, readOnly, mode: '', createSource: !!m.BindOptions?.CreateMountpoint };
    case 'volume': {
      const driver = m.VolumeOptions?.DriverConfig?.Name;
      if (driver && driver !== 'local') throw invalid(`invalid mount config for type "volume": cnmd has the local volume driver only, not ${driver}`);
      if (m.Source) checkVolumeName(m.Source);
      return { type: 'volume', name: m.Source ?? '', target, readOnly, mode: '', anonymous: !m.Source };
    }
    case 'tmpfs': {
      if (m.Source) throw invalid('invalid mount config for type "tmpfs": field Source must not be specified');
      const size = m.TmpfsOptions?.SizeBytes, mode = m.TmpfsOptions?.Mode;
      if (size !== undefined && (!Number.isInteger(size) || size < 0)) throw invalid('invalid mount config for type "tmpfs": invalid size');
      if (mode !== undefined && (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)) throw invalid('invalid mount config for type "tmpfs": invalid mode');
      return { type: 'tmpfs', target, options: [size ? `size=${size}` : '', mode !== undefined ? `mode=${mode.toString(8)}` : ''].filter(Boolean).join(',') };
    }
    default:
      throw invalid(`mount type unknown or not supported by cnmd: ${String(m.Type)}`);
  }
}

/** Every mount of a create request, or Docker's 400. */
export function parseMounts(hostConfig: Record<string, any>, configVolumes: Record<string, unknown> | null | undefined): MountSpec[] {
  const out: MountSpec[] = [];
  const add = (m: MountSpec) => {
    if (out.some((x) => x.target === m.target)) throw invalid(`Duplicate mount point: ${m.target}`);
    out.push(m);
  };
  for (const b of (hostConfig.Binds as unknown[] | null) ?? []) {
    if (typeof b !== 'string') throw invalid('invalid volume specification: expected a string');
    add(bindOf(b));
  }
  for (const m of (hostConfig.Mounts as MountInput[] | null) ?? []) add(mountOf(m));
  for (const [target, options] of Object.entries((hostConfig.Tmpfs as Record<string, string> | null) ?? {})) {
    if (typeof options !== 'string' || !/^[a-zA-Z0-9=,._:-]*$/.test(options)) throw invalid(`invalid tmpfs options for ${target}: ${String(options)}`);
    add({ type: 'tmpfs', target: checkPath(target, 'destination'), options });
  }
  for (const target of Object.keys(configVolumes ?? {})) {
    const t = checkPath(target, 'destination');
    if (!out.some((m) => m.target === t)) out.push({ type: 'volume', name: '', target: t, readOnly: false, mode: '', anonymous: true });
  }
  // parents before what is mounted inside them
  return out.sort((a, b) => a.target.split('/').length - b.target.split('/').length);
}
