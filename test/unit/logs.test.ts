/** docker logs over files of any size: tail read backwards, chunks, rotated files; rotation options. */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync, existsSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOG_CHUNK, logFiles, streamLogs, tailStart, lastLines } from '../../src/runtime/logs.js';
import { parseLogConfig, parseSize, rotateIfFull } from '../../src/runtime/log-rotation.js';

const dir = mkdtempSync(join(tmpdir(), 'cnmd-logs-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function read(files: string[], tail: number, chunks: number[] = []): Promise<string> {
  const out: Buffer[] = [];
  await streamLogs(files, await tailStart(files, tail), async (b) => {
    chunks.push(b.length);
    out.push(b);
    return true;
  });
  return Buffer.concat(out).toString();
}

t.test('tail: the same lines as reading the whole text, for every n, with and without a final newline', async (t) => {
  for (const text of ['', 'one\n', 'one\ntwo\nthree\n', 'one\ntwo\nthree', '\n\n\n', 'a\n\nb\n']) {
    const f = join(dir, `t${Math.random().toString(16).slice(2)}`);
    writeFileSync(f, text);
    for (const n of [-1, 0, 1, 2, 3, 5]) t.equal(await read([f], n), lastLines(Buffer.from(text), n).toString(), `${JSON.stringify(text)} tail ${n}`);
  }
});

t.test('a log larger than memory is read a chunk at a time; tail reads only its end; rotated files come first', async (t) => {
  const big = join(dir, 'big.log');
  const line = 'x'.repeat(99) + '\n';
  writeFileSync(big, line.repeat(30_000)); // 3 MB
  writeFileSync(`${big}.1`, 'older\n');
  writeFileSync(`${big}.2`, 'oldest\n');
  const files = await logFiles(big, 3);
  t.same(files, [`${big}.2`, `${big}.1`, big], 'oldest first');
  t.same(await logFiles(big, 2), [`${big}.1`, big], 'max-file 2: one rotated file');
  const chunks: number[] = [];
  const all = await read(files, -1, chunks);
  t.equal(all.length, 7 + 6 + 3_000_000);
  t.ok(all.startsWith('oldest\nolder\nxxx'));
  t.ok(Math.max(...chunks) <= LOG_CHUNK, `no chunk is larger than ${LOG_CHUNK} bytes`);
  t.equal(await read(files, 2), line + line, 'tail 2');
  t.equal(await read(files, 30_001), 'older\n' + line.repeat(30_000), 'a tail that reaches into a rotated file starts there');
  t.same(await tailStart(files, 100_000), { file: 0, offset: 0 }, 'more lines than there are: from the start');
  let sent = 0;
  await streamLogs(files, { file: 0, offset: 0 }, async () => ++sent < 3);
  t.equal(sent, 3, 'a receiver that is gone stops the reading');
});

t.test('rotation options: Docker\'s json-file options and texts', async (t) => {
  t.same(parseLogConfig(undefined), { maxFile: 1 });
  t.same(parseLogConfig({ Type: '', Config: {} }), { maxFile: 1 });
  t.same(parseLogConfig({ Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } }), { maxSize: 10 * 1024 * 1024, maxFile: 3 });
  t.same(parseLogConfig({ Type: 'syslog', Config: { 'syslog-address': 'udp://x' } }), { maxFile: 1 }, 'other drivers: recorded, not interpreted');
  t.equal(parseSize('1k'), 1024);
  t.equal(parseSize('1.5MB'), 1572864);
  t.equal(parseSize('2048'), 2048);
  const refuse = (cfg: Record<string, string>, message: string) =>
    t.throws(() => parseLogConfig({ Type: 'json-file', Config: cfg }), { message, kind: 'invalid' } as unknown as Error, message);
  refuse({ 'max-size': 'ten' }, "invalid size: 'ten'");
  refuse({ 'max-size': '1m', 'max-file': '0' }, 'max-file cannot be less than 1');
  refuse({ 'max-file': 'x' }, 'strconv.Atoi: parsing "x": invalid syntax');
  refuse({ 'max-file': '3' }, 'max-file cannot be set without max-size');
  refuse({ colour: 'red' }, "unknown log opt 'colour' for json-file log driver");
});

t.test('rotation: a file past max-size becomes .1, older ones shift, at most max-file are kept', async (t) => {
  const f = join(dir, 'rot.log');
  const o = { maxSize: 100, maxFile: 3 };
  writeFileSync(f, 'a'.repeat(50));
  t.notOk(await rotateIfFull(f, o), 'below max-size: nothing');
  writeFileSync(f, 'A'.repeat(150));
  t.ok(await rotateIfFull(f, o));
  t.equal(statSync(f).size, 0, 'the file is emptied in place (the command keeps appending to it)');
  t.equal(readFileSync(`${f}.1`, 'utf8'), 'A'.repeat(150));
  writeFileSync(f, 'B'.repeat(120));
  await rotateIfFull(f, o);
  writeFileSync(f, 'C'.repeat(120));
  await rotateIfFull(f, o);
  t.equal(readFileSync(`${f}.1`, 'utf8')[0], 'C');
  t.equal(readFileSync(`${f}.2`, 'utf8')[0], 'B');
  t.notOk(existsSync(`${f}.3`), 'max-file 3: the current file and two rotated ones');
  const one = join(dir, 'one.log');
  writeFileSync(one, 'z'.repeat(200));
  await rotateIfFull(one, { maxSize: 100, maxFile: 1 });
  t.equal(statSync(one).size, 0);
  t.notOk(existsSync(`${one}.1`), 'max-file 1: truncated, nothing kept');
});
