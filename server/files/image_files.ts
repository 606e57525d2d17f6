import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** What the commands read from a folder: PNG, JPEG and DICOM by their usual names. */
export const IMAGE_EXTENSIONS = /\.(png|jpe?g|dcm|dicom)$/i;

/** A file to read, and the name the output gives it. */
export interface FileJob {
  /** Where to read it. */
  path: string;
  /** How the output names it: relative to the folder given, or as given. */
  name: string;
}

export type ImageFile = FileJob & { missing?: string };

const visible = (name: string) => !name.startsWith('.');

/** A directory entry's kind, following a symbolic link to what it points at (undefined when broken). */
async function kindOf(folder: string, e: Dirent): Promise<'file' | 'folder' | undefined> {
  if (e.isFile()) return 'file';
  if (e.isDirectory()) return 'folder';
  if (!e.isSymbolicLink()) return undefined;
  const info = await stat(join(folder, e.name)).catch(() => undefined);
  return info?.isDirectory() ? 'folder' : info?.isFile() ? 'file' : undefined;
}

/**
 * The visible subfolders of a folder, symbolic links to folders included (people link
 * their data in), sorted by name.
 */
export async function subfolders(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  const kinds = await Promise.all(entries.map(async (e) => (visible(e.name) && (await kindOf(folder, e)) === 'folder' ? e.name : null)));
  return kinds.filter((n): n is string => n !== null).sort();
}

/** A file found under a folder: where it is, and its path from the folder with `/` between the parts. */
interface FoundFile {
  path: string;
  name: string;
}

/**
 * Every visible file under a folder whose name passes `accept`, searched recursively and
 * following symbolic links, sorted by path. A folder reached twice (a link loop, or two
 * links to one place) is read once. Paths are the folder's joined path plus the entry's
 * name, so thousands of files cost no path.join or path.relative each.
 */
async function walkFiles(folder: string, accept: (name: string) => boolean): Promise<FoundFile[]> {
  const seen = new Set<string>();
  const found: FoundFile[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const real = await realpath(dir);
    if (seen.has(real)) return;
    seen.add(real);
    // join(dir, 'x') less its 'x': the normalised folder and a separator ('' for '.'), as join would put before each name
    const head = join(dir, 'x').slice(0, -1);
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (!visible(e.name)) continue;
      // a plain file or folder needs no await (thousands of them in a data set)
      const kind = e.isFile() ? 'file' : e.isDirectory() ? 'folder' : await kindOf(dir, e);
      if (kind === 'folder') await walk(head + e.name, `${prefix}${e.name}/`);
      else if (kind === 'file' && accept(e.name)) found.push({ path: head + e.name, name: prefix + e.name });
    }
  };
  await walk(folder, '');
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Every visible file under a folder whose name passes `accept`, searched recursively and
 * following symbolic links, sorted. A folder reached twice (a link loop, or two links to
 * one place) is read once.
 */
export async function filesUnder(folder: string, accept: (name: string) => boolean = (n) => IMAGE_EXTENSIONS.test(n)): Promise<string[]> {
  return (await walkFiles(folder, accept)).map((f) => f.path);
}

/** Every image file under each folder, sorted, named relative to it; a file is taken as named. */
export async function collectFiles(paths: readonly string[]): Promise<ImageFile[]> {
  const jobs: ImageFile[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => undefined);
    if (!info) jobs.push({ path: p, name: p, missing: `no such file or folder: ${p}` });
    else if (info.isDirectory()) {
      for (const f of await walkFiles(p, (n) => IMAGE_EXTENSIONS.test(n))) jobs.push(f);
    } else jobs.push({ path: p, name: p });
  }
  return jobs;
}
