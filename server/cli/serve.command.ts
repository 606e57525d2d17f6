export async function serveCommand(options: { port: string; host: string }): Promise<void> {
  const { startServer } = await import('../http/app.ts');
  await startServer({ port: Number(options.port), host: options.host });
}
