import { Type, type TSchema } from 'typebox';

/** Docker accepts JSON null wherever an object, string or array is expected. */
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
export const Opt = <T extends TSchema>(t: T) => Type.Optional(Nullable(t));
export const StringMap = Type.Record(Type.String(), Type.String());

export const ErrorResponse = Type.Object(
  { message: Type.String({ description: 'The error message' }) },
  { $id: 'ErrorResponse', description: "Docker's error shape" },
);

export const errorResponses = {
  400: Type.Ref('ErrorResponse'),
  403: Type.Ref('ErrorResponse'),
  404: Type.Ref('ErrorResponse'),
  409: Type.Ref('ErrorResponse'),
  500: Type.Ref('ErrorResponse'),
};
