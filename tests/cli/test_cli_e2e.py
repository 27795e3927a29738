#!/usr/bin/python3
"""End-to-end tests of the cflight program: `cflight serve` on a temporary
directory (port 0, the port read from its "listening on" line) and the
client commands against it, as a person or a script would run them.

Usage: test_cli_e2e.py --build DIR --source DIR --data DIR TEST...
  --build   the build directory (bin/cflight, tests/cli/cli_test_helper,
            tools/ipc-integration/cflight-ipc-integration)
  --source  the source tree (tests/cli/data, tests/peers/node)
  --data    the arrow-testing data folder
Exit status: 0 passed, 1 failed, 77 skipped (CTest SKIP_RETURN_CODE).
Standard library only. No timing assertions: waits poll with generous
deadlines and fail only when something never happens.
"""
import argparse
import glob
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
TIMEOUT = 120  # seconds for any one command (ASan builds are slow)

TYPED_CSV = (
    'id,name,score,ok,price,ts,day,raw,tags,point\n'
    '1,alice,1.5,true,123.45,2023-11-14T22:13:20.123456Z,2023-11-14,0102ff,'
    '"[""a"", null]","{""x"": 1, ""y"": 0.5}"\n'
    '2,"",-0.25,false,-0.05,1969-12-31T23:59:59.000000Z,1969-12-31,"",[],'
    '"{""x"": null, ""y"": -1.0}"\n'
    '3,,,,,,,,,\n')

TYPED_JSON = (
    '{"id":1,"name":"alice","score":1.5,"ok":true,"price":"123.45",'
    '"ts":"2023-11-14T22:13:20.123456Z","day":"2023-11-14","raw":"AQL/",'
    '"tags":["a",null],"point":{"x":1,"y":0.5}}\n'
    '{"id":2,"name":"","score":-0.25,"ok":false,"price":"-0.05",'
    '"ts":"1969-12-31T23:59:59.000000Z","day":"1969-12-31","raw":"",'
    '"tags":[],"point":{"x":null,"y":-1.0}}\n'
    '{"id":3,"name":null,"score":null,"ok":null,"price":null,"ts":null,'
    '"day":null,"raw":null,"tags":null,"point":null}\n')

TYPED_TABLE = (
    'id    | name   | score   | ok    | price             | ts                          '
    '| day        | raw    | tags         | point\n'
    'int64 | string | float64 | bool  | decimal128(10, 2) | timestamp[us, tz=UTC]       '
    '| date32     | binary | list<string> | struct<x: int32, y: float64>\n'
    '------+--------+---------+-------+-------------------+-----------------------------'
    '+------------+--------+--------------+-----------------------------\n'
    '    1 | alice  |     1.5 | true  |            123.45 | 2023-11-14T22:13:20.123456Z '
    '| 2023-11-14 | 0102ff | ["a", null]  | {"x": 1, "y": 0.5}\n'
    '    2 |        |   -0.25 | false |             -0.05 | 1969-12-31T23:59:59.000000Z '
    '| 1969-12-31 |        | []           | {"x": null, "y": -1.0}\n'
    '    3 | NULL   |    NULL | NULL  |              NULL | NULL                        '
    '| NULL       | NULL   | NULL         | NULL\n'
    '(3 rows)\n')


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


class Env:
    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.source = os.path.abspath(args.source)
        self.data = os.path.abspath(args.data)
        self.cflight = os.path.join(self.build, 'bin', 'cflight')
        self.helper = os.path.join(self.build, 'tests', 'cli', 'cli_test_helper')
        self.ipc_tool = os.path.join(self.build, 'tools', 'ipc-integration',
                                     'cflight-ipc-integration')
        self.tmp = tempfile.mkdtemp(prefix='cflight-e2e-')
        os.chmod(self.tmp, 0o755)
        self.servers = []
        self.procs = []

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for s in self.servers:
            s.kill()
        if os.environ.get('CFLIGHT_KEEP_TMP'):
            print('kept', self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, *args, expect=0, stdin=None, env=None, prog=None):
        """Runs cflight (or prog) and checks its exit status; returns it."""
        cmd = [prog or self.cflight] + [str(a) for a in args]
        e = dict(os.environ)
        e.pop('CFLIGHT_PASSWORD', None)
        if env:
            e.update(env)
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=TIMEOUT, env=e)
        if expect is not None and p.returncode != expect:
            raise Failure('%s: exit %d, expected %d\nstdout: %s\nstderr: %s' % (
                ' '.join(cmd), p.returncode, expect, p.stdout.decode(errors='replace')[:2000],
                p.stderr.decode(errors='replace')[:2000]))
        return p

    def out(self, *args, **kw):
        return self.run(*args, **kw).stdout.decode()

    def helper_run(self, *args, expect=0):
        return self.run(*args, expect=expect, prog=self.helper)

    def cmp(self, a, b):
        self.helper_run('cmp', a, b)

    def typed_arrow(self):
        path = self.path('typed.arrow')
        if not os.path.exists(path):
            self.run('--integration', '--mode=JSON_TO_ARROW',
                     '--json=' + os.path.join(self.source, 'tests/cli/data/typed.json'),
                     '--arrow=' + path, prog=self.ipc_tool)
        return path

    def gen(self, name, rows):
        path = self.path(name)
        self.helper_run('gen', path, rows)
        return path

    def serve(self, data_dir, *extra, **kw):
        s = Server(self, data_dir, list(extra), **kw)
        self.servers.append(s)
        return s


class Server:
    def __init__(self, env, data_dir, extra, listen='grpc://127.0.0.1:0', preexec=None):
        self.env = env
        self.data_dir = data_dir
        self.log_path = env.path('serve-%d.log' % len(env.servers))
        self.log = open(self.log_path, 'wb')
        args = [env.cflight, 'serve', '--data', data_dir] + extra
        if listen and '--listen' not in extra:
            args += ['--listen', listen]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log,
                                     preexec_fn=preexec)
        self.banner = []
        self.uri = None
        deadline = time.time() + TIMEOUT
        buf = b''
        while self.uri is None:
            left = deadline - time.time()
            check(left > 0, 'the server printed no "listening on" line')
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                self.proc.wait()
                raise Failure('the server exited (%d) before listening:\n%s' % (
                    self.proc.returncode, self.stderr()))
            buf += chunk
            while b'\n' in buf and self.uri is None:
                line, buf = buf.split(b'\n', 1)
                line = line.decode()
                self.banner.append(line)
                if 'listening on ' in line:
                    self.uri = line.split('listening on ', 1)[1].strip()
        # The rest of the banner comes right after; read it for the tests.
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            self.banner.append(line.decode())
        deadline = time.time() + 10
        while not any('stop with' in l for l in self.banner) and time.time() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                while b'\n' in buf:
                    line, buf = buf.split(b'\n', 1)
                    self.banner.append(line.decode())

    @property
    def port(self):
        return int(self.uri.rsplit(':', 1)[1])

    def stderr(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, 'rb') as f:
            return f.read().decode(errors='replace')

    def stop(self, sig=signal.SIGTERM, expect=0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure('the server did not stop on %s' % sig)
        if expect is not None:
            check(self.proc.returncode == expect, 'the server exited %d, expected %d:\n%s' % (
                self.proc.returncode, expect, self.stderr()))
        self.log.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.log.closed:
            self.log.close()


def tmp_files(data_dir):
    found = []
    for root, _, files in os.walk(data_dir):
        found += [os.path.join(root, f) for f in files if f.startswith('.cflight-tmp-')]
    return found


def wait_for(cond, what, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise Failure('timed out waiting for ' + what)


# ---- Tests ---------------------------------------------------------------------------------------

def test_formats(env):
    """put, then get in every format; text outputs checked exactly."""
    typed = env.typed_arrow()
    s = env.serve(env.path('data'))
    env.run('put', s.uri, 'sales/typed', typed, '--quiet')
    check(env.out('get', s.uri, 'sales/typed', '--format', 'csv') == TYPED_CSV, 'csv output')
    check(env.out('get', s.uri, 'sales/typed', '--format', 'json') == TYPED_JSON, 'json output')
    check(env.out('get', s.uri, 'sales/typed', '--format', 'table') == TYPED_TABLE,
          'table output:\n' + env.out('get', s.uri, 'sales/typed', '--format', 'table'))
    # Not a terminal: CSV by default.
    check(env.out('get', s.uri, 'sales/typed') == TYPED_CSV, 'default format off a terminal')
    for fmt, name in (('arrow', 'o.arrow'), ('arrows', 'o.arrows')):
        env.run('get', s.uri, 'sales/typed', '--format', fmt, '-o', env.path(name))
        env.cmp(typed, env.path(name))
    # The format from the output file's extension.
    env.run('get', s.uri, 'sales/typed', '-o', env.path('o.json'))
    check(open(env.path('o.json')).read() == TYPED_JSON, 'json by extension')
    env.run('get', s.uri, 'sales/typed', '-o', env.path('o2.arrow'))
    env.cmp(typed, env.path('o2.arrow'))
    # Binary output to stdout when it is not a terminal.
    p = env.run('get', s.uri, 'sales/typed', '--format', 'arrows')
    with open(env.path('stdout.arrows'), 'wb') as f:
        f.write(p.stdout)
    env.cmp(typed, env.path('stdout.arrows'))
    # --limit, and --no-header.
    check(env.out('get', s.uri, 'sales/typed', '-f', 'csv', '--limit', '1', '--no-header') ==
          TYPED_CSV.splitlines(True)[1], '--limit 1')
    check(env.out('get', s.uri, 'sales/typed', '-f', 'json', '-n', '0') == '', '--limit 0')
    # An IPC stream on standard input, and the ticket directly.
    env.run('put', s.uri, 'from/stdin', '-', '--quiet', stdin=p.stdout)
    check(env.out('get', s.uri, 'from/stdin', '-f', 'json') == TYPED_JSON, 'put from stdin')
    check(env.out('get', s.uri, '--ticket', 'from/stdin', '-f', 'csv') == TYPED_CSV, '--ticket')
    s.stop()


def test_catalog(env):
    """list, info, schema, actions, action (list, stats, rename, drop), exchange."""
    typed = env.typed_arrow()
    s = env.serve(env.path('data'))
    for name in ('a/one', 'a/two', 'b'):
        env.run('put', s.uri, name, typed, '--quiet')
    out = env.out('list', s.uri)
    check(out.splitlines()[0].split() == ['path', 'rows', 'size'], 'list header: ' + out)
    check([l.split()[0] for l in out.splitlines()[1:4]] == ['a/one', 'a/two', 'b'], out)
    check('(3 flights)' in out, out)
    out = env.out('list', s.uri, 'a/')
    check('a/one' in out and 'a/two' in out and '\nb ' not in out, 'list a/: ' + out)
    infos = [json.loads(l) for l in env.out('list', s.uri, '--format', 'json').splitlines()]
    check(len(infos) == 3 and infos[0]['descriptor'] == {'path': ['a', 'one']}, str(infos))
    info = json.loads(env.out('info', s.uri, 'a/one', '--format', 'json'))
    check(info['total_records'] == 3 and info['total_bytes'] > 0, str(info))
    check(info['endpoints'] == [{'ticket': 'a/one', 'locations': [s.uri]}], str(info))
    check([f['name'] for f in info['schema']][:3] == ['id', 'name', 'score'], str(info))
    out = env.out('info', s.uri, 'a/one')
    check('total_records: 3' in out and "ticket 'a/one'" in out and s.uri in out, out)
    out = env.out('schema', s.uri, 'b')
    check(out.startswith('id: int64 not null\nname: string\n'), out)
    check('price: decimal128(10, 2)' in out and 'ts: timestamp[us, tz=UTC]' in out, out)
    out = env.out('actions', s.uri)
    check([l for l in out.splitlines() if not l.startswith(' ')] ==
          ['list', 'stats', 'drop', 'rename'], out)
    stats = json.loads(env.out('action', s.uri, 'stats'))
    check(stats['datasets'] == 3 and stats['rows'] == 9 and stats['bytes'] > 0, str(stats))
    listed = [json.loads(l) for l in env.out('action', s.uri, 'list', 'a/').splitlines()]
    check([d['path'] for d in listed] == ['a/one', 'a/two'] and listed[0]['rows'] == 3,
          str(listed))
    check(json.loads(env.out('action', s.uri, 'rename', '{"from": "a/two", "to": "c/d/e"}')) ==
          {'renamed': 'a/two', 'to': 'c/d/e'}, 'rename')
    p = env.run('action', s.uri, 'rename', 'a/one b', expect=1)
    check(b'exists already' in p.stderr, p.stderr)
    env.run('action', s.uri, 'rename', '{"from": "a/one", "to": "b", "replace": true}')
    check(json.loads(env.out('action', s.uri, 'drop', 'b')) == {'dropped': 'b'}, 'drop')
    p = env.run('action', s.uri, 'drop', '{"path": "b"}', expect=1)
    check(b"no dataset 'b'" in p.stderr, p.stderr)
    p = env.run('action', s.uri, 'explode', expect=1)
    check(b"unknown action 'explode'" in p.stderr, p.stderr)
    check(env.out('list', s.uri).splitlines()[1].split()[0] == 'c/d/e', 'after rename/drop')
    check(not os.path.exists(env.path('data', 'a')), 'the emptied directory a/ was removed')
    out = env.out('exchange', s.uri, typed)
    check('exchanged 1 batch (3 rows): the server sent back the same data' in out, out)
    s.stop()
    log = s.stderr()
    check('ListFlights' in log and 'DoAction' in log and 'DoExchange' in log,
          'access log:\n' + log)


def test_csv(env):
    """CSV uploads: inferred types, TSV, and bad CSV rejected with clear errors."""
    s = env.serve(env.path('data'))
    csv = env.path('t.csv')
    with open(csv, 'w') as f:
        f.write('id,price,ok,when,name,zip\n'
                '1,2.5,true,2024-01-31T10:00:00Z,"Smith, J",02134\n'
                '2,,false,2024-02-01T00:00:00.5Z,,10001\n')
    env.run('put', s.uri, 'csv/t', csv, '--quiet', '--batch-rows', '1')
    out = env.out('schema', s.uri, 'csv/t')
    check(out == 'id: int64\nprice: float64\nok: bool\nwhen: timestamp[us, tz=UTC]\n'
                 'name: string\nzip: string\n', out)
    rows = [json.loads(l) for l in env.out('get', s.uri, 'csv/t', '-f', 'json').splitlines()]
    check(rows == [
        {'id': 1, 'price': 2.5, 'ok': True, 'when': '2024-01-31T10:00:00.000000Z',
         'name': 'Smith, J', 'zip': '02134'},
        {'id': 2, 'price': None, 'ok': False, 'when': '2024-02-01T00:00:00.500000Z',
         'name': None, 'zip': '10001'}], str(rows))
    info = json.loads(env.out('info', s.uri, 'csv/t', '-f', 'json'))
    check(info['total_records'] == 2, str(info))
    tsv = env.path('t.tsv')
    with open(tsv, 'w') as f:
        f.write('a\tb\nx y\t1\n')
    env.run('put', s.uri, 'csv/tsv', tsv, '--quiet')
    check(env.out('get', s.uri, 'csv/tsv', '-f', 'csv') == 'a,b\nx y,1\n', 'tsv')
    env.run('put', s.uri, 'csv/stdin', '-', '--format', 'csv', '--types', 'a=string', '--quiet',
            stdin=b'a,b\n1,2\n')
    check(env.out('get', s.uri, 'csv/stdin', '-f', 'json') == '{"a":"1","b":2}\n', 'csv stdin')
    bad = env.path('bad.csv')
    with open(bad, 'w') as f:
        f.write('a,b\n1,2\n3\n')
    p = env.run('put', s.uri, 'csv/bad', bad, expect=1)
    check(b'row 2 has 1 field, but the header has 2' in p.stderr, p.stderr)
    with open(bad, 'w') as f:
        f.write('a,b\n1,"2\n')
    p = env.run('put', s.uri, 'csv/bad', bad, expect=1)
    check(b'unclosed quote' in p.stderr, p.stderr)
    notarrow = env.path('notes.txt.bin')
    with open(notarrow, 'w') as f:
        f.write('hello, world\n')
    p = env.run('put', s.uri, 'csv/bad', notarrow, expect=1)
    check(b'is not Arrow IPC data (for CSV, pass --format csv' in p.stderr, p.stderr)
    check('csv/bad' not in env.out('list', s.uri), 'nothing stored for failed uploads')
    s.stop()


def test_gold(env):
    """Every arrow-testing integration file: put, get back as Arrow (equal), and as
    table, CSV and JSON (valid JSON lines)."""
    files = sorted(glob.glob(os.path.join(env.data, 'arrow-ipc-stream/integration/*/*.arrow_file')))
    check(files, 'no gold files under ' + env.data)
    s = env.serve(env.path('data'))
    for i, path in enumerate(files):
        name = 'gold/%s/%s' % (os.path.basename(os.path.dirname(path)),
                               os.path.basename(path).split('.')[0])
        env.run('put', s.uri, name, path, '--quiet')
        out = env.path('g%d.arrow' % i)
        env.run('get', s.uri, name, '-o', out)
        env.cmp(path, out)
        for fmt in ('table', 'csv'):
            env.run('get', s.uri, name, '-f', fmt)
        ncols = len(json.loads(env.out('info', s.uri, name, '-f', 'json'))['schema'])
        for line in env.out('get', s.uri, name, '-f', 'json').splitlines():
            row = json.loads(line)
            check(len(row) == ncols or 'duplicate' in name, '%s: %s' % (name, line[:200]))
    # Stream-format inputs are told apart from files by their bytes.
    stream = files[0].replace('.arrow_file', '.stream')
    env.run('put', s.uri, 'gold/stream', stream, '--quiet')
    env.run('get', s.uri, 'gold/stream', '-o', env.path('gs.arrow'))
    env.cmp(files[0], env.path('gs.arrow'))
    s.stop()


def test_restart(env):
    """A restart keeps every dataset."""
    typed = env.typed_arrow()
    big = env.gen('big.arrow', 25000)
    data = env.path('data')
    s = env.serve(data)
    env.run('put', s.uri, 'typed', typed, '--quiet')
    env.run('put', s.uri, 'x/big', big, '--quiet', '--batch-rows', '7000')
    s.stop(signal.SIGINT)
    check('stopped' in s.stderr(), s.stderr())
    s = env.serve(data)
    check(any('2 datasets in ' + data in l for l in s.banner), str(s.banner))
    env.run('get', s.uri, 'typed', '-o', env.path('t.arrow'))
    env.cmp(typed, env.path('t.arrow'))
    env.run('get', s.uri, 'x/big', '-o', env.path('b.arrow'))
    env.cmp(big, env.path('b.arrow'))
    s.stop()


def start_hang_put(env, uri, name):
    p = subprocess.Popen([env.helper, 'hang-put', uri, name], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    env.procs.append(p)
    line = p.stdout.readline()
    check(line == b'sent\n', 'hang-put: %r %r' % (line, p.stderr.read() if p.poll() is not None
                                                    else b''))
    return p


def test_kill_client(env):
    """A client killed mid-put: the previous version stays, no temporary file."""
    typed = env.typed_arrow()
    data = env.path('data')
    s = env.serve(data)
    env.run('put', s.uri, 'k', typed, '--quiet')
    p = start_hang_put(env, s.uri, 'k')
    check(len(tmp_files(data)) == 1, 'an upload in progress has a temporary file')
    env.run('get', s.uri, 'k', '-o', env.path('during.arrow'))
    env.cmp(typed, env.path('during.arrow'))
    p.kill()
    p.wait()
    wait_for(lambda: not tmp_files(data), 'the server to drop the abandoned upload')
    env.run('get', s.uri, 'k', '-o', env.path('after.arrow'))
    env.cmp(typed, env.path('after.arrow'))
    check('abandoned' in s.stderr(), s.stderr())
    s.stop()


def test_kill_server(env):
    """kill -9 of the server mid-put: after a restart the previous version is
    readable and the temporary file is gone."""
    typed = env.typed_arrow()
    data = env.path('data')
    s = env.serve(data)
    env.run('put', s.uri, 'k', typed, '--quiet')
    p = start_hang_put(env, s.uri, 'k')
    check(len(tmp_files(data)) == 1, 'an upload in progress has a temporary file')
    s.kill()
    p.stdin.close()
    p.wait()
    check(len(tmp_files(data)) == 1, 'kill -9 leaves the temporary file')
    s = env.serve(data)
    check(any('removed 1 unfinished upload' in l for l in s.banner), str(s.banner))
    check(not tmp_files(data), 'temporary files removed at startup')
    env.run('get', s.uri, 'k', '-o', env.path('k.arrow'))
    env.cmp(typed, env.path('k.arrow'))
    s.stop()


def test_shutdown(env):
    """SIGTERM with an upload in flight: the grace period passes, the upload is
    cancelled, the old version stays and no temporary file remains."""
    typed = env.typed_arrow()
    data = env.path('data')
    s = env.serve(data, '--grace', '0.5')
    env.run('put', s.uri, 'k', typed, '--quiet')
    p = start_hang_put(env, s.uri, 'k')
    s.stop(signal.SIGTERM)
    p.stdin.close()
    p.wait()
    check(not tmp_files(data), 'no temporary file after a clean shutdown')
    s = env.serve(data)
    env.run('get', s.uri, 'k', '-o', env.path('k.arrow'))
    env.cmp(typed, env.path('k.arrow'))
    s.stop()


def test_malformed(env):
    """Malformed batches are refused (INVALID_ARGUMENT) and change nothing."""
    typed = env.typed_arrow()
    data = env.path('data')
    s = env.serve(data)
    env.run('put', s.uri, 'm', typed, '--quiet')
    for kind in ('offsets', 'dict'):
        p = env.helper_run('bad-put', s.uri, 'm', kind)
        check(b'does not match the schema' in p.stdout, p.stdout)
        p = env.helper_run('bad-put', s.uri, 'new-' + kind, kind)
    env.run('get', s.uri, 'm', '-o', env.path('m.arrow'))
    env.cmp(typed, env.path('m.arrow'))
    out = env.out('list', s.uri)
    check('new-' not in out, 'a refused upload stores nothing: ' + out)
    check(not tmp_files(data), 'no temporary files')
    # Paths that leave the data directory are refused.
    for bad in ('../x', '.hidden'):
        p = env.run('put', s.uri, bad, typed, expect=1)
        check(b'is not allowed' in p.stderr or b"starts with '.'" in p.stderr, p.stderr)
    p = env.run('get', s.uri, '--ticket', '/etc/passwd', expect=1)
    check(b'absolute' in p.stderr, p.stderr)
    p = env.run('info', s.uri, '--cmd', 'SELECT 1', expect=1)
    check(b'command descriptors are not supported' in p.stderr, p.stderr)
    s.stop()


def test_replace_while_reading(env):
    """A reader of a dataset being replaced (or dropped) keeps reading the version
    it opened: a get is held mid-stream (its output unread, a small window)
    while new versions are put and the dataset dropped."""
    v1 = env.gen('v1.arrow', 400000)
    v2 = env.typed_arrow()
    # Small queues and windows both ways: the server's DoGet waits for the client.
    s = env.serve(env.path('data'), '--option', 'send_queue_bytes=65536')
    env.run('put', s.uri, 'r', v1, '--quiet')
    p = subprocess.Popen([env.cflight, 'get', s.uri, 'r', '-f', 'arrows', '--option',
                          'stream_window=65536'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    env.procs.append(p)
    r, _, _ = select.select([p.stdout], [], [], TIMEOUT)
    check(r, 'the get sent nothing')
    first = os.read(p.stdout.fileno(), 65536)  # the stream has begun
    env.run('put', s.uri, 'r', v2, '--quiet')
    env.run('action', s.uri, 'drop', 'r')
    check('DoGet' not in s.stderr(), 'the get was still reading (its call not logged yet)')
    rest, err = p.communicate(timeout=TIMEOUT)
    check(p.returncode == 0, 'get failed: %s' % err)
    with open(env.path('got.arrows'), 'wb') as f:
        f.write(first + rest)
    env.cmp(v1, env.path('got.arrows'))
    s.stop()


def test_read_only(env):
    """--read-only: reads work; uploads and changes fail with a clear message."""
    typed = env.typed_arrow()
    data = env.path('data')
    s = env.serve(data)
    env.run('put', s.uri, 'r', typed, '--quiet')
    s.stop()
    s = env.serve(data, '--read-only')
    check(any('(read-only)' in l for l in s.banner), str(s.banner))
    env.run('get', s.uri, 'r', '-o', env.path('r.arrow'))
    env.cmp(typed, env.path('r.arrow'))
    p = env.run('put', s.uri, 'r', typed, expect=1)
    check(b'permission denied' in p.stderr and b'read-only' in p.stderr, p.stderr)
    for args in (('drop', 'r'), ('rename', 'r s')):
        p = env.run('action', s.uri, *args, expect=1)
        check(b'read-only' in p.stderr, p.stderr)
    check(json.loads(env.out('action', s.uri, 'stats'))['read_only'] is True, 'stats read_only')
    s.stop()


def flight_certs(env):
    d = os.path.join(env.data, 'flight')
    return {k: os.path.join(d, v) for k, v in (
        ('ca', 'root-ca.pem'), ('cert0', 'cert0.pem'), ('key0', 'cert0.key'),
        ('cert1', 'cert1.pem'), ('key1', 'cert1.key'))}


def check_tls12_suites(port):
    """HTTP/2 forbids TLS 1.2 suites without forward secrecy and AEAD (RFC 9113
    9.2.2): the server must refuse them and accept an ECDHE + AES-GCM suite."""
    if shutil.which('openssl') is None:
        return
    for suite, ok in (('AES128-SHA', False), ('ECDHE-RSA-AES128-SHA', False),
                      ('ECDHE-RSA-AES128-GCM-SHA256', True)):
        p = subprocess.run(['openssl', 's_client', '-connect', '127.0.0.1:%d' % port,
                            '-tls1_2', '-cipher', suite, '-alpn', 'h2'],
                           input=b'', capture_output=True, timeout=20)
        agreed = b'Cipher is ' + suite.encode() in p.stdout
        check(agreed == ok, 'TLS 1.2 suite %s %s' % (suite, 'refused' if ok else 'accepted'))


def test_tls(env):
    """TLS, mutual TLS, and the client's TLS flags."""
    c = flight_certs(env)
    typed = env.typed_arrow()
    s = env.serve(env.path('data'), '--tls-cert', c['cert0'], '--tls-key', c['key0'],
                  listen='grpc+tls://127.0.0.1:0')
    check(s.uri.startswith('grpc+tls://'), s.uri)
    uri = 'grpc+tls://localhost:%d' % s.port
    env.run('put', uri, 't', typed, '--tls-ca', c['ca'], '--quiet')
    env.run('get', uri, 't', '--tls-ca', c['ca'], '-o', env.path('t.arrow'))
    env.cmp(typed, env.path('t.arrow'))
    p = env.run('list', uri, expect=1)
    check(b'--tls-ca' in p.stderr, 'hint to pass --tls-ca: %s' % p.stderr)
    env.run('list', uri, '--insecure')
    env.run('list', s.uri, '--tls-ca', c['ca'], '--tls-override-hostname', 'localhost')
    p = env.run('list', 'grpc://localhost:%d' % s.port, expect=1)
    check_tls12_suites(s.port)
    s.stop()
    # Mutual TLS: a client certificate signed by the CA is required.
    s = env.serve(env.path('data'), '--tls-cert', c['cert0'], '--tls-key', c['key0'],
                  '--tls-client-ca', c['ca'], listen='grpc+tls://127.0.0.1:0')
    uri = 'grpc+tls://localhost:%d' % s.port
    env.run('list', uri, '--tls-ca', c['ca'], expect=1)
    env.run('get', uri, 't', '--tls-ca', c['ca'], '--tls-cert', c['cert1'], '--tls-key',
            c['key1'], '-o', env.path('m.arrow'))
    env.cmp(typed, env.path('m.arrow'))
    s.stop()
    p = env.run('serve', '--data', env.path('d2'), '--listen', 'grpc+tls://127.0.0.1:0',
                expect=2)
    check(b'needs a certificate' in p.stderr, p.stderr)


def test_auth(env):
    """--auth-basic (BasicAuth handshake and basic/bearer headers) and --auth-token."""
    typed = env.typed_arrow()
    pw = env.path('passwords')
    with open(pw, 'w') as f:
        f.write('# users\nalice:s3cret:with:colons\nbob:hunter2\n')
    os.chmod(pw, 0o600)
    tokens = env.path('tokens')
    with open(tokens, 'w') as f:
        f.write('static-token-1234\n')
    os.chmod(tokens, 0o600)
    s = env.serve(env.path('data'), '--auth-basic', pw, '--auth-token', tokens)
    check(any('login required' in l for l in s.banner), str(s.banner))
    p = env.run('list', s.uri, expect=1)
    check(b'authentication failed' in p.stderr and b'--user' in p.stderr, p.stderr)
    env.run('put', s.uri, 'a', typed, '--user', 'alice', '--password', 's3cret:with:colons',
            '--quiet')
    env.run('get', s.uri, 'a', '--user', 'alice', '--password', 's3cret:with:colons', '-o',
            env.path('a.arrow'))
    env.cmp(typed, env.path('a.arrow'))
    env.run('list', s.uri, '--user', 'bob', '--handshake', env={'CFLIGHT_PASSWORD': 'hunter2'})
    env.run('get', s.uri, 'a', '--user', 'bob', '--handshake', '--password', 'hunter2', '-f',
            'json')
    p = env.run('list', s.uri, '--user', 'bob', '--password', 'wrong', expect=1)
    check(b'authentication failed' in p.stderr, p.stderr)
    p = env.run('list', s.uri, '--user', 'bob', '--password', 'wrong', '--handshake', expect=1)
    env.run('list', s.uri, '--token', 'static-token-1234')
    env.run('list', s.uri, '--token', 'nope', expect=1)
    env.run('list', s.uri, '--header', 'authorization=Basic ' +
            __import__('base64').b64encode(b'bob:hunter2').decode())
    s.stop()


def test_errors(env):
    """Clear messages and exit codes: port in use, directory not writable,
    nothing listening, usage errors."""
    s = env.serve(env.path('data'))
    p = env.run('serve', '--data', env.path('other'), '--listen',
                'grpc://127.0.0.1:%d' % s.port, expect=1)
    check(('port %d is in use; pass --listen grpc://127.0.0.1:PORT' % s.port).encode()
          in p.stderr, p.stderr)
    p = env.run('serve', '--data', env.path('data'), '--listen', 'grpc://127.0.0.1:0', expect=1)
    check(b'in use by another cflight serve' in p.stderr, p.stderr)
    s.stop()
    p = env.run('list', s.uri, expect=1)
    check(('cannot connect to %s: connection refused. Is `cflight serve` running' % s.uri)
          .encode() in p.stderr, p.stderr)
    # A directory this user cannot write (root writes anywhere: drop to nobody).
    ro = env.path('ro')
    os.mkdir(ro)
    os.chmod(ro, 0o555)
    cmd = [env.cflight, 'serve', '--data', ro, '--listen', 'grpc://127.0.0.1:0']
    pre = None
    if os.geteuid() == 0:
        def pre():
            os.setgid(65534)
            os.setuid(65534)
    p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, preexec_fn=pre)
    check(p.returncode == 1 and b'is not writable' in p.stderr and b'--read-only' in p.stderr,
          'unwritable: %d %s' % (p.returncode, p.stderr))
    p = env.run('serve', '--data', env.typed_arrow(), expect=1)
    check(b'is not a directory' in p.stderr, p.stderr)
    # Usage errors exit 2.
    p = env.run('get', expect=2)
    p = env.run('get', 'x', 'y', '--formt', 'csv', expect=2)
    check(b'did you mean --format?' in p.stderr, p.stderr)
    env.run('nope', expect=2)
    env.run('get', 'x', 'y', '--format', 'xml', expect=2)
    for cmd in ('serve', 'list', 'info', 'schema', 'get', 'put', 'actions', 'action', 'exchange'):
        out = env.out(cmd, '--help')
        check(out.startswith('Usage: cflight ' + cmd) and 'Exit status' in out, cmd + ' --help')
    check('Commands:' in env.out('--help'), '--help')


def test_endpoints(env):
    """get follows every endpoint's locations: another server, an unreachable
    location first, this connection (no location, reuse-connection), in
    parallel threads for an unordered FlightInfo."""
    a = env.gen('a.arrow', 3)
    b = env.gen('b.arrow', 4)
    backend = env.serve(env.path('data'))
    env.run('put', backend.uri, 'a', a, '--quiet')
    env.run('put', backend.uri, 'b', b, '--quiet')
    p = subprocess.Popen([env.helper, 'endpoints-server', backend.uri], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    env.procs.append(p)
    line = p.stdout.readline().decode()
    check(line.startswith('listening on '), line)
    uri = line.split()[-1]
    want = sorted(['%d,row %d' % (i, i) for i in range(3)] +
                  ['%d,row %d' % (i, i) for i in range(4)] +
                  ['%d,row %d' % (i, i) for i in range(1000, 1005)] +
                  ['%d,row %d' % (i, i) for i in range(2000, 2005)])
    for par in ('4', '1'):
        out = env.out('get', uri, 'anything', '-f', 'csv', '--no-header', '--parallel', par)
        check(sorted(out.splitlines()) == want, 'rows from every endpoint:\n' + out)
    p.stdin.close()
    p.wait()
    backend.stop()


def test_progress(env):
    """The progress bar, forced on (stderr is no terminal here)."""
    big = env.gen('big.arrow', 20000)
    s = env.serve(env.path('data'))
    p = env.run('put', s.uri, 'big', big, '--progress', 'always', '--batch-rows', '5000')
    check(b'\r' in p.stderr and b'put big: 20,000 rows in 4 batches' in p.stderr, p.stderr)
    # Every batch was acknowledged, the last ack read before the call closed.
    check(b'server: {"batch":4,"rows":20000}' in p.stderr, p.stderr)
    p = env.run('get', s.uri, 'big', '-f', 'csv', '--progress', 'always')
    check(b'\r' in p.stderr and b'\x1b[K' in p.stderr, p.stderr)
    check(len(p.stdout.splitlines()) == 20001, 'all rows')
    p = env.run('get', s.uri, 'big', '-f', 'csv')
    check(p.stderr == b'', 'no bar off a terminal: %r' % p.stderr[:200])
    s.stop()


def test_node_peer(env):
    """A Node.js peer (@grpc/grpc-js and apache-arrow, through tests/cli/node_get.mjs
    on tests/peers/node's shared module) reads what cflight serve serves.
    Skipped when node, the npm packages or tests/peers/node are missing."""
    peer = os.path.join(env.source, 'tests/peers/node')
    node = shutil.which('node')
    needed = [os.path.join(peer, 'flight-common.mjs'), os.path.join(peer, 'node_modules')]
    missing = [p for p in needed if not os.path.exists(p)]
    if node is None or missing:
        print('skipped: no %s' % ('node' if node is None else ', '.join(missing)))
        return SKIP
    script = os.path.join(env.source, 'tests/cli/node_get.mjs')
    s = env.serve(env.path('data'))
    sources = [env.typed_arrow()] + [
        os.path.join(env.data, 'arrow-ipc-stream/integration/cpp-21.0.0/generated_%s.arrow_file'
                     % n) for n in ('primitive', 'nested', 'datetime', 'decimal')]
    for i, src in enumerate(sources):
        name = 'peer/%d' % i
        env.run('put', s.uri, name, src, '--quiet')
        out = env.path('peer%d.arrows' % i)
        p = subprocess.run([node, script, '--uri', s.uri, '--path', name, '--out', out],
                           capture_output=True, timeout=TIMEOUT)
        check(p.returncode == 0, 'node peer on %s: %s' % (src, p.stderr.decode()[-2000:]))
        env.cmp(src, out)
    s.stop()


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith('test_')}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--source', required=True)
    ap.add_argument('--data', required=True)
    ap.add_argument('tests', nargs='*')
    args = ap.parse_args()
    names = args.tests or list(TESTS)
    status = 0
    skipped = 0
    for name in names:
        env = Env(args)
        try:
            r = TESTS[name](env)
            if r == SKIP:
                skipped += 1
                print('[ SKIP ] ' + name)
            else:
                print('[  OK  ] ' + name)
        except Failure as e:
            status = 1
            print('[ FAIL ] %s: %s' % (name, e))
            for s in env.servers:
                print('--- server log (%s):\n%s' % (s.uri, s.stderr()[-4000:]))
        except subprocess.TimeoutExpired as e:
            status = 1
            print('[ FAIL ] %s: timed out: %s' % (name, e))
        finally:
            env.cleanup()
        sys.stdout.flush()
    if status == 0 and skipped == len(names):
        return SKIP
    return status


if __name__ == '__main__':
    sys.exit(main())
