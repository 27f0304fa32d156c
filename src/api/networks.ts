import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import type { NetworkService } from '../services/networks.js';
import { NETWORK_LIST_FILTERS, NETWORK_PRUNE_FILTERS } from '../services/networks.js';
import { parseFilters } from '../services/filters.js';
import { notFound } from '../errors.js';
import { networkListJson, renderNetwork, type EndpointView } from './render.js';
import { strictBool } from './query.js';
import { NetworkCreateRequest } from './schemas/network.js';
import { errorResponses, Opt } from './schemas/common.js';

export interface NetworkRouteOptions {
  networks: NetworkService;
  /** connect and disconnect, which belong to the containers service */
  attach?: {
    connect(network: string, container: string, settings: Record<string, unknown> | null, apiVersion: number): Promise<void>;
    disconnect(network: string, container: string, force: boolean): Promise<void>;
  };
  /** endpoints of a network for inspect's Containers; none until sandboxes exist */
  endpointsOf?: (networkId: string) => EndpointView[];
  /** hosts with endpoints on a global network */
  peersOf?: (networkId: string) => Array<{ Name: string; IP: string }>;
}

const FiltersQuery = Type.Object({ filters: Type.Optional(Type.String({ description: 'JSON: map of lists or map of booleans' })) });
const IdParam = Type.Object({ id: Type.String({ description: 'network id, unique id prefix, or name' }) });

export const networkRoutes: FastifyPluginAsync<NetworkRouteOptions> = async (app, opts) => {
  const svc = opts.networks;
  const tags = ['Network'];

  app.get<{ Querystring: Static<typeof FiltersQuery> }>(
    '/networks',
    { schema: { tags, summary: 'List networks', querystring: FiltersQuery, response: { 200: Type.Array(Type.Ref('Network')), ...errorResponses } } },
    // Docker <= 28 (API <= 1.51): from 1.28 list items carry an empty Containers, before it the endpoints as inspect shows them
    async (req, reply) => {
      const networks = svc.list(parseFilters(req.query.filters, NETWORK_LIST_FILTERS));
      if (req.apiVersion >= 1.28) return reply.type('application/json').send(networkListJson(networks, req.apiVersion));
      return networks.map((n) => renderNetwork(n, req.apiVersion, opts.endpointsOf?.(n.id) ?? [], opts.peersOf?.(n.id)));
    },
  );

  const InspectQuery = Type.Object({ verbose: Type.Optional(Type.String()), scope: Type.Optional(Type.String()) });
  app.get<{ Params: Static<typeof IdParam>; Querystring: Static<typeof InspectQuery> }>(
    '/networks/:id',
    { schema: { tags, summary: 'Inspect a network', params: IdParam, querystring: InspectQuery, response: { 200: Type.Ref('Network'), ...errorResponses } } },
    async (req) => {
      strictBool('verbose', req.query.verbose);
      const n = svc.get(req.params.id, 'inspect');
      if (req.query.scope && req.query.scope !== n.scope) throw notFound(`network ${req.params.id} not found`);
      return renderNetwork(n, req.apiVersion, opts.endpointsOf?.(n.id) ?? [], opts.peersOf?.(n.id));
    },
  );

  app.post<{ Body: Static<typeof NetworkCreateRequest> }>(
    '/networks/create',
    {
      schema: {
        tags,
        summary: 'Create a network',
        body: Type.Ref('NetworkCreateRequest'),
        response: { 201: Type.Ref('NetworkCreateResponse'), ...errorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(await svc.create(req.body ?? {}, req.apiVersion)),
  );

  app.delete<{ Params: Static<typeof IdParam> }>(
    '/networks/:id',
    { schema: { tags, summary: 'Remove a network', params: IdParam, response: { 204: Type.Null(), ...errorResponses } } },
    async (req, reply) => {
      await svc.remove(req.params.id);
      return reply.code(204).send();
    },
  );

  const ConnectBody = Type.Object(
    { Container: Opt(Type.String()), EndpointConfig: Opt(Type.Object({}, { additionalProperties: true })) },
    { additionalProperties: true },
  );
  app.post<{ Params: Static<typeof IdParam>; Body: { Container?: string | null; EndpointConfig?: Record<string, unknown> | null } }>(
    '/networks/:id/connect',
    { schema: { tags, summary: 'Connect a container to a network', params: IdParam, body: ConnectBody, response: { 200: Type.Null(), ...errorResponses } } },
    async (req, reply) => {
      await opts.attach!.connect(req.params.id, req.body?.Container ?? '', req.body?.EndpointConfig ?? null, req.apiVersion);
      return reply.code(200).send();
    },
  );
  const DisconnectBody = Type.Object({ Container: Opt(Type.String()), Force: Opt(Type.Boolean()) }, { additionalProperties: true });
  app.post<{ Params: Static<typeof IdParam>; Body: { Container?: string | null; Force?: boolean | null } }>(
    '/networks/:id/disconnect',
    { schema: { tags, summary: 'Disconnect a container from a network', params: IdParam, body: DisconnectBody, response: { 200: Type.Null(), ...errorResponses } } },
    async (req, reply) => {
      await opts.attach!.disconnect(req.params.id, req.body?.Container ?? '', !!req.body?.Force);
      return reply.code(200).send();
    },
  );

  app.post<{ Querystring: Static<typeof FiltersQuery> }>(
    '/networks/prune',
    { schema: { tags, summary: 'Delete unused networks', querystring: FiltersQuery, response: { 200: Type.Ref('NetworkPruneResponse'), ...errorResponses } } },
    async (req) => svc.prune(parseFilters(req.query.filters, NETWORK_PRUNE_FILTERS)),
  );
};
