import { createWriteStream, type WriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import yazl from 'yazl';
import type { Queryable } from '../../platform/db/connect.js';
import { exportSections, sectionPage } from './queries.js';

/** Rows read per query while an export is made: memory stays bounded whatever the member wrote. */
export const EXPORT_PAGE_ROWS = 500;

/** What the readable page calls each section, for someone who is not technical. */
const sectionTitles: Record<string, { title: string; about: string }> = {
  profile: { title: 'Your profile', about: 'Your name, picture and privacy settings.' },
  account: { title: 'Your account', about: 'Your username and whether you sign in with a password. Passwords are never included.' },
  memberships: {
    title: 'Your groups and communities',
    about: 'The groups you are in, your role, when you joined and your notification settings.',
  },
  messages: { title: 'Your messages', about: 'Every message you sent and every edit you made, with its group and time.' },
  reactions: { title: 'Your reactions', about: 'The emoji you reacted with.' },
  pollVotes: { title: 'Your poll votes', about: 'The options you chose in polls (numbered from 0).' },
  eventRsvps: { title: 'Your event answers', about: 'Whether you said you are going to events.' },
  attachments: { title: 'Files you uploaded', about: 'The files themselves are in the "files" folder beside this page.' },
  sessions: { title: 'Where you signed in', about: 'Each sign-in, how it was made and when it ends.' },
  passkeys: { title: 'Your passkeys', about: 'The passkeys you sign in with: their names and when they were added and last used.' },
  phone: { title: 'Your phone number', about: 'The number you sign in with, and when it was verified. Only you are ever shown it.' },
  blocks: { title: 'People you blocked', about: 'The accounts you blocked.' },
  reports: { title: 'Reports you filed', about: 'Messages you reported to a community’s admins.' },
  pushSubscriptions: { title: 'Devices that get notifications', about: 'Where notifications are sent (the address only).' },
};

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A value as the page shows it: times as they were stored (UTC), objects as JSON. */
function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

const STORED_TIME = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]\d\d(?::?\d\d)?)$/;

/** A time as storage answers it (a Date, or PGlite's `2026-12-08 04:47:05.061+00`) as an ISO string. */
function isoTime(v: string): string {
  const m = STORED_TIME.exec(v);
  if (!m) return v;
  const zone =
    m[3] === 'Z' ? 'Z' : m[3]!.length === 3 ? `${m[3]}:00` : m[3]!.includes(':') ? m[3]! : `${m[3]!.slice(0, 3)}:${m[3]!.slice(3)}`;
  const date = new Date(`${m[1]}T${m[2]}${zone}`);
  return Number.isNaN(date.getTime()) ? v : date.toISOString();
}

/** A row as data.json holds it: without the paging keys, times as ISO strings, seqs as numbers. */
function clean(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (/^k\d$/.test(k)) continue;
    if (v instanceof Date) out[k] = v.toISOString();
    else if (typeof v === 'string' && (k.endsWith('At') || k === 'time')) out[k] = isoTime(v);
    else if ((k === 'seq' || k === 'messageSeq' || k === 'editOf' || k === 'replyTo' || k === 'size') && typeof v === 'string')
      out[k] = Number(v);
    else out[k] = v;
  }
  return out;
}

/** A file's name inside the archive: `files/<id>-<name>`, nothing that climbs out of the folder. */
export function archiveFileName(id: string, name: string): string {
  const safe =
    name
      .replace(/[\\/\p{Cc}:*?"<>|]/gu, '_')
      .replace(/^\.+/, '_')
      .slice(0, 120) || 'file';
  return `files/${id}-${safe}`;
}

async function write(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function close(stream: WriteStream): Promise<void> {
  stream.end();
  await once(stream, 'finish');
}

export interface ArchiveInput {
  db: Queryable;
  userId: string;
  /** Where the archive's parts are written while it is made (the caller removes them). */
  paths: { json: string; html: string; zip: string };
  /** An attachment's bytes from the blob store; undefined when gone meanwhile. */
  openFile: (id: string) => Promise<Readable | undefined>;
  now: Date;
}

/**
 * Writes the member's archive to `paths.zip`: data.json (every section, streamed row by row), a
 * readable index.html (plain, escaped, no script) and their uploaded files. Rows are read a page
 * at a time and written out at once, so memory holds a page, not the member's history; the files
 * are opened one at a time, as the zip writer reaches them. Returns the archive's size.
 */
export async function writeArchive(input: ArchiveInput): Promise<number> {
  const { db, userId, paths } = input;
  const json = createWriteStream(paths.json);
  const html = createWriteStream(paths.html);
  const files: { id: string; name: string }[] = [];
  await write(json, `{"exportedAt":${JSON.stringify(input.now.toISOString())},"format":"banyan-export-1"`);
  await write(
    html,
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src 'self'">` +
      `<title>Your data</title><style>body{font:16px/1.5 system-ui,sans-serif;margin:1rem auto;max-width:60rem;padding:0 1rem}` +
      `table{border-collapse:collapse;width:100%;margin-bottom:2rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}</style></head><body>` +
      `<h1>Your data</h1><p>Everything this server holds that you wrote or that is about you, as of ${escapeHtml(input.now.toISOString())} (times are UTC). ` +
      `The same data, for programs, is in data.json.</p>`,
  );
  for (const section of exportSections) {
    const titles = sectionTitles[section.name] ?? { title: section.name, about: '' };
    await write(json, `,${JSON.stringify(section.name)}:[`);
    await write(html, `<h2>${escapeHtml(titles.title)}</h2><p>${escapeHtml(titles.about)}</p>`);
    let after: unknown[] | undefined;
    let first = true;
    let headed = false;
    for (;;) {
      const page = await sectionPage(db, section, userId, after, EXPORT_PAGE_ROWS);
      for (const raw of page) {
        const row = clean(raw);
        await write(json, `${first ? '' : ','}${JSON.stringify(row)}`);
        first = false;
        if (!headed) {
          await write(
            html,
            `<table><thead><tr>${Object.keys(row)
              .map((k) => `<th>${escapeHtml(k)}</th>`)
              .join('')}</tr></thead><tbody>`,
          );
          headed = true;
        }
        await write(
          html,
          `<tr>${Object.values(row)
            .map((v) => `<td>${escapeHtml(cell(v))}</td>`)
            .join('')}</tr>`,
        );
        if (section.name === 'attachments') files.push({ id: String(row.id), name: String(row.name) });
      }
      if (page.length < EXPORT_PAGE_ROWS) break;
      const last = page[page.length - 1]!;
      after = section.keys.map((_, i) => last[`k${i}`]);
    }
    await write(json, ']');
    await write(html, headed ? '</tbody></table>' : '<p><em>Nothing.</em></p>');
  }
  await write(json, '}\n');
  await write(html, '</body></html>\n');
  await Promise.all([close(json), close(html)]);

  const zip = new yazl.ZipFile();
  const written = pipeline(zip.outputStream, createWriteStream(paths.zip));
  zip.addFile(paths.html, 'index.html');
  zip.addFile(paths.json, 'data.json');
  for (const file of files) {
    // Opened when the writer reaches it: one blob read at a time. A file gone meanwhile is an empty entry.
    zip.addReadStreamLazy(archiveFileName(file.id, file.name), {}, (cb) => {
      input.openFile(file.id).then(
        (stream) => cb(null, stream ?? Readable.from([])),
        (err: Error) => cb(err, undefined as unknown as Readable),
      );
    });
  }
  zip.end();
  await written;
  return (await stat(paths.zip)).size;
}
