import type * as grpc from "@grpc/grpc-js";
import { HttpError } from "@veriflow/errors";

/** A request message whose bytes are not a valid encoding of its type: what the handler gets instead of a message. */
export class UndecodableMessage {
  constructor(readonly cause: unknown) {}
}

/**
 * grpc-js answers a request message it cannot decode with INTERNAL ("Error deserializing
 * request"), as if the server had failed, and no handler sees the call. Each method's
 * decoder is wrapped here so that such bytes reach the handler as an UndecodableMessage,
 * which createRpc refuses as INVALID_ARGUMENT E_INVALID_MESSAGE: the client sent them.
 */
export function withTolerantDecoding(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const tolerant = (method: grpc.MethodDefinition<unknown, unknown>) => ({
    ...method,
    requestDeserialize: (bytes: Buffer): unknown => {
      try {
        return method.requestDeserialize(bytes);
      } catch (err) {
        return new UndecodableMessage(err);
      }
    },
  });
  return Object.fromEntries(Object.entries(definition).map(([name, method]) => [name, tolerant(method)]));
}

/** The message, or the client's error when its bytes did not decode. */
export function decoded<T>(message: T | UndecodableMessage, method: string): T {
  if (message instanceof UndecodableMessage) {
    throw new HttpError("E_INVALID_MESSAGE", `a request message of ${method} is not a valid protobuf encoding of its type`, { cause: message.cause });
  }
  return message;
}

/** The messages of a client stream, each decoded or refused as `decoded` does. */
export function decodedMessages<T>(stream: AsyncIterable<T>, method: string): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = stream[Symbol.asyncIterator]();
      return {
        next: async () => {
          const r = await it.next();
          return r.done ? r : { done: false, value: decoded(r.value as T | UndecodableMessage, method) };
        },
        return: async (value?: unknown) => (it.return ? it.return(value) : { done: true, value }),
      };
    },
  };
}
