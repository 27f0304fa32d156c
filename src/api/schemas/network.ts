/** Network schemas, named after Docker's swagger definitions. */
import { Type } from 'typebox';
import { Opt, StringMap, Nullable } from './common.js';

export const IPAMConfig = Type.Object(
  {
    Subnet: Type.Optional(Type.String()),
    IPRange: Type.Optional(Type.String()),
    Gateway: Type.Optional(Type.String()),
    AuxiliaryAddresses: Type.Optional(StringMap),
  },
  { $id: 'IPAMConfig' },
);

const IPAMConfigInput = Type.Object({
  Subnet: Opt(Type.String()),
  IPRange: Opt(Type.String()),
  Gateway: Opt(Type.String()),
  AuxiliaryAddresses: Opt(StringMap),
});

export const IPAM = Type.Object(
  {
    Driver: Type.String(),
    Options: Nullable(StringMap),
    Config: Type.Array(Type.Ref('IPAMConfig')),
  },
  { $id: 'IPAM' },
);

export const EndpointResource = Type.Object(
  {
    Name: Type.String(),
    EndpointID: Type.String(),
    MacAddress: Type.String(),
    IPv4Address: Type.String(),
    IPv6Address: Type.String(),
  },
  { $id: 'EndpointResource' },
);

export const Network = Type.Object(
  {
    Name: Type.String(),
    Id: Type.String(),
    Created: Type.String({ description: 'RFC3339Nano' }),
    Scope: Type.String(),
    Driver: Type.String(),
    EnableIPv4: Type.Optional(Type.Boolean({ description: 'API 1.47 and later' })),
    EnableIPv6: Type.Boolean(),
    IPAM: Type.Ref('IPAM'),
    Internal: Type.Boolean(),
    Attachable: Type.Boolean(),
    Ingress: Type.Boolean(),
    ConfigFrom: Type.Object({ Network: Type.String() }),
    ConfigOnly: Type.Boolean(),
    Containers: Type.Optional(Type.Record(Type.String(), Type.Ref('EndpointResource'), { description: 'inspect only' })),
    Options: StringMap,
    Labels: StringMap,
  },
  { $id: 'Network' },
);

export const NetworkCreateRequest = Type.Object(
  {
    Name: Opt(Type.String()),
    CheckDuplicate: Opt(Type.Boolean({ description: 'deprecated: duplicate names are always refused (409)' })),
    Driver: Opt(Type.String()),
    Scope: Opt(Type.String()),
    Internal: Opt(Type.Boolean()),
    Attachable: Opt(Type.Boolean()),
    Ingress: Opt(Type.Boolean()),
    ConfigOnly: Opt(Type.Boolean()),
    ConfigFrom: Opt(Type.Object({ Network: Opt(Type.String()) })),
    EnableIPv4: Opt(Type.Boolean({ description: 'honoured from API 1.48' })),
    EnableIPv6: Opt(Type.Boolean()),
    IPAM: Opt(
      Type.Object({
        Driver: Opt(Type.String()),
        Options: Opt(StringMap),
        Config: Opt(Type.Array(Nullable(IPAMConfigInput))),
      }),
    ),
    Options: Opt(StringMap),
    Labels: Opt(StringMap),
  },
  { $id: 'NetworkCreateRequest' },
);

export const NetworkCreateResponse = Type.Object(
  { Id: Type.String(), Warning: Type.String() },
  { $id: 'NetworkCreateResponse' },
);

export const NetworkPruneResponse = Type.Object(
  { NetworksDeleted: Nullable(Type.Array(Type.String())) },
  { $id: 'NetworkPruneResponse' },
);

const EndpointSettingsInput = Type.Object(
  {
    IPAMConfig: Opt(Type.Object({ IPv4Address: Opt(Type.String()), IPv6Address: Opt(Type.String()), LinkLocalIPs: Opt(Type.Array(Type.String())) })),
    Links: Opt(Type.Array(Type.String())),
    Aliases: Opt(Type.Array(Type.String())),
    MacAddress: Opt(Type.String()),
    DriverOpts: Opt(StringMap),
    GwPriority: Opt(Type.Integer()),
  },
  { additionalProperties: true },
);

export const ContainerCreateRequest = Type.Object(
  {
    Image: Opt(Type.String()),
    Cmd: Opt(Type.Union([Type.Array(Type.String()), Type.String()])),
    Entrypoint: Opt(Type.Union([Type.Array(Type.String()), Type.String()])),
    Env: Opt(Type.Array(Type.String())),
    Hostname: Opt(Type.String()),
    Domainname: Opt(Type.String()),
    ExposedPorts: Opt(Type.Record(Type.String(), Type.Any())),
    Labels: Opt(StringMap),
    MacAddress: Opt(Type.String()),
    SandboxKey: Opt(Type.String({ description: 'cnmd extension: an existing network namespace (path) to put the endpoints in; cnmd never deletes it' })),
    HostConfig: Opt(Type.Object({ NetworkMode: Opt(Type.String()) }, { additionalProperties: true })),
    NetworkingConfig: Opt(Type.Object({ EndpointsConfig: Opt(Type.Record(Type.String(), Nullable(EndpointSettingsInput))) }, { additionalProperties: true })),
  },
  { $id: 'ContainerCreateRequest', additionalProperties: true },
);
