import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PackNotes1764200008000 } from './1764200008000-PackNotes.js';
import { NoteEntity } from './note.entity.js';
import { NotesTools } from './notes.tools.js';

/** Tool pack `notes`: `notes.add` and `notes.list` on the caller's own notes. */
@Module({ imports: [TypeOrmModule.forFeature([NoteEntity])], providers: [NotesTools] })
export class NotesModule {}

/**
 * What the pack list (tool-packs.module.ts) needs to know: the module, that it loads only when `TOOL_PACKS` names
 * it, and its table (entity and migration, always migrated). Its error codes are in notes.errors.ts.
 */
export const notesPack = {
  module: NotesModule,
  optIn: true,
  entities: [NoteEntity],
  migrations: [PackNotes1764200008000],
};
