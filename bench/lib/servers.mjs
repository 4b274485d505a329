/**
 * The peers' servers, started by the benchmark in temporary directories on loopback ports and
 * stopped at the end (also on errors and signals). PostgreSQL runs as the unprivileged `postgres`
 * user (it refuses root); Redis runs as a child process without persistence.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { killOnCleanup, onCleanup, tempDir } from './cleanup.mjs';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function aptInstall(pkg, log) {
  if (process.getuid?.() !== 0) return false;
  log(`  installing ${pkg} with apt-get (it is missing)...`);
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 300_000 });
  if (update.status !== 0) return false;
  const r = spawnSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'ignore', timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status === 0;
}

/** The directory holding initdb/pg_ctl/postgres: PATH first, then Debian's newest /usr/lib/postgresql/N/bin. */
function pgBinDir() {
  const onPath = which('pg_ctl');
  if (onPath && which('initdb')) return path.dirname(onPath);
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = spawnSync('ls', [base], { encoding: 'utf8' }).stdout.split('\n').filter((v) => /^\d+$/.test(v)).sort((a, b) => b - a);
  for (const v of versions) if (existsSync(path.join(base, v, 'bin', 'pg_ctl'))) return path.join(base, v, 'bin');
  return null;
}

function asUser(user, argv) {
  return process.getuid?.() === 0 ? ['runuser', ['-u', user, '--', ...argv]] : [argv[0], argv.slice(1)];
}

/**
 * Starts PostgreSQL: initdb (trust auth) in a temp dir, listen on 127.0.0.1:<free port> only,
 * socket in the temp dir. synchronous_commit=off: commits are not flushed one by one, the same
 * durability class as flowdeck's SQLite (WAL + synchronous=NORMAL). Returns null (and why) when it cannot.
 */
export async function startPostgres(log) {
  let bin = pgBinDir();
  if (!bin && aptInstall('postgresql', log)) bin = pgBinDir();
  if (!bin) return { skip: 'PostgreSQL is not installed and apt-get could not install it' };
  const user = process.getuid?.() === 0 ? 'postgres' : os.userInfo().username;
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', user]).status !== 0) return { skip: `no '${user}' user to run PostgreSQL as (it refuses to run as root)` };
  const { dir } = tempDir('pg');
  const data = path.join(dir, 'data');
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  const [c1, a1] = asUser(user, [path.join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
  const init = spawnSync(c1, a1, { encoding: 'utf8', cwd: dir });
  if (init.status !== 0) return { skip: `initdb failed: ${(init.stderr || init.stdout || '').trim().split('\n').slice(-2).join(' ')}` };
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c synchronous_commit=off -c max_connections=50 -c shared_buffers=128MB`;
  const [c2, a2] = asUser(user, [path.join(bin, 'pg_ctl'), '-D', data, '-l', path.join(dir, 'server.log'), '-o', opts, '-w', '-t', '60', 'start']);
  const stopPg = () => {
    const [c3, a3] = asUser(user, [path.join(bin, 'pg_ctl'), '-D', data, '-m', 'fast', '-w', '-t', '20', 'stop']);
    const r = spawnSync(c3, a3, { stdio: 'ignore', cwd: dir, timeout: 30_000 });
    if (r.status !== 0) {
      // last resort: the postmaster's pid from its pid file
      try {
        const pid = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        if (pid > 0) process.kill(pid, 'SIGQUIT');
      } catch {
        // not running
      }
    }
  };
  const start = spawnSync(c2, a2, { encoding: 'utf8', cwd: dir, timeout: 90_000 });
  // registered after tempDir's removal, so it runs first
  const stop = onCleanup('stop PostgreSQL', stopPg);
  if (start.status !== 0) {
    let tail = '';
    try {
      tail = readFileSync(path.join(dir, 'server.log'), 'utf8').trim().split('\n').slice(-3).join(' ');
    } catch {
      // no log
    }
    stop();
    return { skip: `PostgreSQL did not start: ${(start.stderr || '').trim()} ${tail}`.trim() };
  }
  const version = spawnSync(path.join(bin, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout.trim();
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, version, stop, settings: 'synchronous_commit=off, fsync on, shared_buffers=128MB' };
}

/** Starts redis-server on 127.0.0.1:<free port>, no persistence (save '' / appendonly no), as a child process. */
export async function startRedis(log) {
  let bin = which('redis-server');
  if (!bin && aptInstall('redis-server', log)) bin = which('redis-server');
  if (!bin) return { skip: 'redis-server is not installed and apt-get could not install it' };
  const { dir } = tempDir('redis');
  const port = await freePort();
  const conf = path.join(dir, 'redis.conf');
  writeFileSync(conf, `bind 127.0.0.1\nport ${port}\nsave ""\nappendonly no\ndir ${dir}\ndaemonize no\nprotected-mode yes\nmaxmemory-policy noeviction\n`);
  const child = spawn(bin, [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = killOnCleanup(child, 'stop redis-server', { signal: 'SIGTERM' });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const ready = await new Promise((resolve) => {
    const deadline = Date.now() + 15_000;
    const tryConnect = () => {
      if (child.exitCode !== null) return resolve(false);
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.write('PING\r\n');
        s.once('data', (d) => {
          s.destroy();
          resolve(String(d).startsWith('+PONG'));
        });
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) resolve(false);
        else setTimeout(tryConnect, 50);
      });
    };
    tryConnect();
  });
  if (!ready) {
    stop();
    return { skip: `redis-server did not start: ${out.trim().split('\n').slice(-2).join(' ')}` };
  }
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ').find((w) => w.startsWith('v='))?.slice(2) ?? '?';
  const stopAndWait = () => {
    stop();
  };
  return { url: `redis://127.0.0.1:${port}`, host: '127.0.0.1', port, version: `Redis ${version}`, stop: stopAndWait, settings: "no persistence (save '', appendonly no)" };
}
