import { createApiClient } from "../api.js";
import type { Command } from "../args.js";
import { EXIT } from "../exit-codes.js";
import { formatDeadLetter, formatDeadLetterList } from "../format.js";
import { printJson, type Io } from "../io.js";

type DeadLettersCommand = Extract<Command, { kind: "dead-letters-list" | "dead-letters-show" | "dead-letters-replay" }>;

/** `veriflow dead-letters list | show | replay`. */
export async function runDeadLetters(cmd: DeadLettersCommand, io: Io): Promise<number> {
  const api = createApiClient(cmd.common);
  const { json } = cmd.common;
  switch (cmd.kind) {
    case "dead-letters-list": {
      const page = await api.listDeadLetters({ consumer: cmd.consumer, after: cmd.after, limit: cmd.limit });
      if (json) printJson(io, page);
      else io.stdout.write(formatDeadLetterList(page));
      return EXIT.OK;
    }
    case "dead-letters-show": {
      const deadLetter = await api.getDeadLetter(cmd.seq);
      if (json) printJson(io, deadLetter);
      else io.stdout.write(formatDeadLetter(deadLetter));
      return EXIT.OK;
    }
    case "dead-letters-replay": {
      const answer = await api.replayDeadLetter(cmd.seq);
      if (json) printJson(io, answer);
      else io.stdout.write(`dead letter ${answer.seq} replayed to ${answer.consumer} on ${answer.subject} (stream seq ${answer.streamSeq})\n`);
      return EXIT.OK;
    }
  }
}
