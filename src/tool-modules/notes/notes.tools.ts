import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { z } from 'zod';
import { DomainError } from '../../common/domain-error.js';
import { Tool } from '../../tools/tool.decorator.js';
import type { ToolContext } from '../../tools/tool.types.js';
import { NoteEntity } from './note.entity.js';
import { NotesErrors } from './notes.errors.js';

/** Longest note, in UTF-16 code units (JavaScript string length). */
export const NOTE_MAX_LENGTH = 1000;

// No `.max()` here on purpose: a long note is the pack's own error (NOTE_TOO_LONG), not INVALID_ARGUMENTS.
const AddInput = z.strictObject({
  text: z.string().min(1).describe(`The note, at most ${NOTE_MAX_LENGTH} characters`),
});
const Note = z.object({ id: z.string(), text: z.string(), createdAt: z.string() });
const ListInput = z.strictObject({ limit: z.int().min(1).max(100).default(50) });
const ListOutput = z.object({ items: z.array(Note) });

/** Tool pack `notes`: each agent's notes, in the pack's own table `pack_notes`. */
@Injectable()
export class NotesTools {
  constructor(@InjectRepository(NoteEntity) private readonly notes: Repository<NoteEntity>) {}

  @Tool({
    name: 'notes.add',
    description: `Stores a note (at most ${NOTE_MAX_LENGTH} characters) for the calling agent and returns it.`,
    input: AddInput,
    output: Note,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  })
  async add({ text }: z.infer<typeof AddInput>, ctx: ToolContext): Promise<z.infer<typeof Note>> {
    if (text.length > NOTE_MAX_LENGTH) {
      throw new DomainError(NotesErrors.NOTE_TOO_LONG, `A note holds at most ${NOTE_MAX_LENGTH} characters`, {
        length: text.length,
        maxLength: NOTE_MAX_LENGTH,
      });
    }
    return view(await this.notes.save(this.notes.create({ agentId: ctx.principal.agentId, text })));
  }

  @Tool({
    name: 'notes.list',
    description: "The calling agent's notes, oldest first (other agents' notes are never visible).",
    input: ListInput,
    output: ListOutput,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  })
  async list({ limit }: z.infer<typeof ListInput>, ctx: ToolContext): Promise<z.infer<typeof ListOutput>> {
    const rows = await this.notes.find({
      where: { agentId: ctx.principal.agentId },
      order: { id: 'ASC' },
      take: limit,
    });
    return { items: rows.map(view) };
  }
}

function view({ id, text, createdAt }: NoteEntity): z.infer<typeof Note> {
  return { id, text, createdAt: createdAt.toISOString() };
}
