/** Stable codes for what a user can get wrong; messages say what and why in words. */
export type ErrorCode =
  | 'invalidSpec'
  | 'imageTooSmall'
  | 'imageTooLarge'
  | 'unsupportedFormat'
  | 'corruptImage'
  | 'unreadableFile'
  | 'notColour';

export class MedclassError extends Error {
  override name = 'MedclassError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));
