// `cargo leptos end-to-end` starts the server and Playwright together: wait until it answers.
export default async function globalSetup() {
  const address = process.env.LEPTOS_SITE_ADDR ?? "127.0.0.1:3000";
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const res = await fetch(`http://${address}/healthz`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`server at ${address} did not answer /healthz`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
