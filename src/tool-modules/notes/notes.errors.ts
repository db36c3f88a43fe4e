import { defineErrorCodes } from '../../common/domain-error.js';

/** The notes pack's own error codes: tool errors carrying the code (docs/errors.md "Codes of tool packs"). */
export const NotesErrors = defineErrorCodes({
  NOTE_TOO_LONG: 'notes.add: the text is longer than a note may be; details: { length, maxLength }',
});
