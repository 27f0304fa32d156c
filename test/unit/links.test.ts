import t from 'tap';
import { linkEnv, parseLink } from '../../src/services/links.js';

t.test("parseLink: Docker's formats and errors", async (t) => {
  t.same(parseLink('web:db'), { name: 'web', alias: 'db' });
  t.same(parseLink('web'), { name: 'web', alias: 'web' });
  t.same(parseLink('/web:/client/db'), { name: 'web', alias: 'db' }, "inspect's form, as a client may send it back");
  for (const [bad, text] of [['a:b:c', 'bad format for links: a:b:c'], ['', 'empty string specified for links'], ['web:d b', 'bad format for links: web:d b'], ['web:db\n1.2.3.4 evil', 'bad format for links: web:db\n1.2.3.4 evil']]) {
    t.throws(() => parseLink(bad), { kind: 'invalid', message: text }, JSON.stringify(bad));
  }
});

t.test("linkEnv: moby's variables (TCP first, ranges, NAME, ENV without HOME and PATH)", async (t) => {
  t.same(linkEnv('lk4', '/p/lk4', '172.17.0.4', ['SECRET=x', 'HOME=/root', 'PATH=/bin', 'EMPTY=', 'JUNK'], ['53/udp', '80/tcp']), [
    'LK4_PORT=tcp://172.17.0.4:80',
    'LK4_PORT_80_TCP=tcp://172.17.0.4:80',
    'LK4_PORT_80_TCP_ADDR=172.17.0.4',
    'LK4_PORT_80_TCP_PORT=80',
    'LK4_PORT_80_TCP_PROTO=tcp',
    'LK4_PORT_53_UDP=udp://172.17.0.4:53',
    'LK4_PORT_53_UDP_ADDR=172.17.0.4',
    'LK4_PORT_53_UDP_PORT=53',
    'LK4_PORT_53_UDP_PROTO=udp',
    'LK4_NAME=/p/lk4',
    'LK4_ENV_SECRET=x',
    'LK4_ENV_EMPTY=',
  ]);
  const ranged = linkEnv('my-db', '/p/my-db', '10.0.0.2', [], ['5000', '5001/tcp', '5002/tcp']);
  t.equal(ranged[0], 'MY_DB_PORT=tcp://10.0.0.2:5000', 'dashes become underscores; no protocol means tcp');
  t.same(ranged.filter((e) => /_(START|END)=/.test(e)), [
    'MY_DB_PORT_5000_TCP_START=tcp://10.0.0.2:5000',
    'MY_DB_PORT_5000_TCP_PORT_START=5000',
    'MY_DB_PORT_5000_TCP_END=tcp://10.0.0.2:5002',
    'MY_DB_PORT_5000_TCP_PORT_END=5002',
  ], 'a run of consecutive ports is a range');
  t.same(linkEnv('x', '/p/x', '10.0.0.2', [], []), ['X_NAME=/p/x']);
});
