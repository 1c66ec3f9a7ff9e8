/** What may run the sandboxes, as `--backend` and CRATEBOX_BACKEND name it (runtime/sandbox/backend.ts chooses). */
export const BACKEND_CHOICES = ["auto", "bwrap", "docker"] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
