import { Ajv } from 'ajv'

/** The bundled routes' body validator: no coercion (a numeric password is a 400, not "123"), no silent removal of unknown properties (they are a 400). */
export const routesAjv = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, strict: true })
routesAjv.addFormat('date-time', true)
