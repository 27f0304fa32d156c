/**
 * The swarm routes as a Docker 20.10 engine outside a swarm answers them (recorded from the
 * reference engine; test/compat/swarm-reference.test.ts compares them live when it runs). Where
 * Docker answers 500 for a client's mistake, cnmd answers 400 with the same text.
 */
export const NOT_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

export const SWARM_ROUTES: Array<{ method: 'GET' | 'POST' | 'DELETE'; path: string; status: number; message: string; dockerStatus?: number }> = [
  { method: 'GET', path: '/swarm', status: 503, message: NOT_MANAGER },
  { method: 'GET', path: '/swarm/unlockkey', status: 503, message: NOT_MANAGER },
  { method: 'POST', path: '/swarm/unlock', status: 503, message: NOT_MANAGER },
  { method: 'POST', path: '/swarm/leave', status: 503, message: 'This node is not part of a swarm' },
  { method: 'POST', path: '/swarm/leave?force=1', status: 503, message: 'This node is not part of a swarm' },
  { method: 'POST', path: '/swarm/update?version=1', status: 503, message: NOT_MANAGER },
  { method: 'POST', path: '/swarm/update', status: 400, message: 'invalid swarm version \'\': strconv.ParseUint: parsing "": invalid syntax' },
  { method: 'GET', path: '/nodes', status: 503, message: NOT_MANAGER },
  { method: 'GET', path: '/nodes/x', status: 503, message: NOT_MANAGER },
  { method: 'DELETE', path: '/nodes/x', status: 503, message: NOT_MANAGER },
  { method: 'POST', path: '/nodes/x/update?version=1', status: 503, message: NOT_MANAGER },
  { method: 'GET', path: '/services', status: 503, message: NOT_MANAGER },
  { method: 'GET', path: '/services/x', status: 503, message: NOT_MANAGER },
  { method: 'POST', path: '/services/create', status: 503, message: NOT_MANAGER },
  { method: 'POST', path: '/services/x/update?version=1', status: 503, message: NOT_MANAGER },
  { method: 'DELETE', path: '/services/x', status: 503, message: NOT_MANAGER },
  { method: 'GET', path: '/services/x/logs', status: 400, dockerStatus: 500, message: 'Bad parameters: you must choose at least one stream' },
  { method: 'GET', path: '/services/x/logs?stdout=1', status: 503, message: NOT_MANAGER },
  { method: 'GET', path: '/tasks', status: 503, message: NOT_MANAGER },
  { method: 'GET', path: '/tasks/x', status: 503, message: NOT_MANAGER },
  { method: 'GET', path: '/tasks/x/logs', status: 400, dockerStatus: 500, message: 'Bad parameters: you must choose at least one stream' },
  { method: 'GET', path: '/secrets', status: 503, message: NOT_MANAGER },
  { method: 'GET', path: '/secrets/x', status: 503, message: NOT_MANAGER },
  { method: 'POST', path: '/secrets/create', status: 503, message: NOT_MANAGER },
  { method: 'POST', path: '/secrets/x/update?version=1', status: 503, message: NOT_MANAGER },
  { method: 'POST', path: '/secrets/x/update', status: 400, message: 'invalid secret version' },
  { method: 'DELETE', path: '/secrets/x', status: 503, message: NOT_MANAGER },
  { method: 'GET', path: '/configs', status: 503, message: NOT_MANAGER },
  { method: 'GET', path: '/configs/x', status: 503, message: NOT_MANAGER },
  { method: 'POST', path: '/configs/create', status: 503, message: NOT_MANAGER },
  { method: 'POST', path: '/configs/x/update?version=1', status: 503, message: NOT_MANAGER },
  { method: 'POST', path: '/configs/x/update', status: 400, message: 'invalid config version' },
  { method: 'DELETE', path: '/configs/x', status: 503, message: NOT_MANAGER },
];
