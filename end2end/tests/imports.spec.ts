// Loading people in bulk: a ZIP of a CSV and its photos uploaded on the Imports page, followed
// to its end, its refused rows listed and downloadable; and a file that is no ZIP refused,
// saying why. With and without JavaScript.
import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hydrated, logIn, unique } from "./pages";

/** A ZIP of `people.csv` and two test photos, made with Python's zipfile. */
function zipOf(csv: string) {
  const dir = mkdtempSync(join(tmpdir(), "dossier-import-"));
  const photos = join(__dirname, "../../data/test-photos");
  const script = `
import sys, zipfile
out, csv, photos = sys.argv[1:4]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("people.csv", csv)
    for name in ("obama.jpg", "biden.jpg"):
        z.write(f"{photos}/{name}", f"photos/{name}")
`;
  const out = join(dir, "people.zip");
  execFileSync("python3", ["-c", script, out, csv, photos]);
  return { name: "people.zip", mimeType: "application/zip", buffer: readFileSync(out) };
}

for (const javaScriptEnabled of [true, false]) {
  const how = javaScriptEnabled ? "" : " (no JavaScript)";
  test(`a ZIP of people is imported, its refused rows reported${how}`, async ({ browser }) => {
    test.setTimeout(90_000);
    const context = await browser.newContext({ javaScriptEnabled, acceptDownloads: true });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on("console", (m) => {
      if (m.text().includes("Content Security Policy")) violations.push(m.text());
    });
    if (javaScriptEnabled) {
      await logIn(page, "admin");
    } else {
      await page.goto("/login");
      await page.getByLabel("Username").fill("admin");
      await page.getByLabel("Password").fill("e2e-password");
      await page.getByRole("button", { name: "Log in" }).click();
      await expect(page.getByTestId("whoami")).toBeAttached();
    }
    const list = unique("Imported");
    const key = unique("K").replace(/ /g, "-");
    const obama = unique("Barack Obama");
    const csv = [
      "external_key,name,lists,photos",
      `${key}-1,${obama},${list},photos/obama.jpg`,
      `${key}-2,${unique("Joe Biden")},${list},photos/biden.jpg`,
      `${key}-3,Nobody,${list},photos/gone.jpg`,
    ].join("\n");
    await page.goto("/imports");
    if (javaScriptEnabled) await hydrated(page);
    await expect(page).toHaveTitle(/^Imports · /);
    const form = page.getByTestId("import-form");
    await form.getByLabel("ZIP file").setInputFiles(zipOf(csv));
    await form.getByLabel(/Create the lists/).check();
    await form.getByRole("button", { name: "Import" }).click();
    await expect(page).toHaveURL(/\/imports\/\d+/);
    await expect(page.getByTestId("notice")).toContainText("ZIP received");
    const state = page.getByTestId("import-state");
    if (javaScriptEnabled) {
      // The page follows the import by itself, and reloads when it ends.
      await expect(state).toHaveAttribute("data-state", "done", { timeout: 60_000 });
    } else {
      // Without the script, the operator reloads until the import says it is done.
      await expect(async () => {
        await page.reload();
        await expect(state).toHaveAttribute("data-state", "done", { timeout: 1_000 });
      }).toPass({ timeout: 60_000 });
    }
    await expect(page.getByTestId("import-counts")).toContainText("Created2");
    await expect(page.getByTestId("refused-count")).toHaveText("1");
    const refused = page.getByTestId("refusals");
    await expect(refused).toContainText(`${key}-3`);
    await expect(refused).toContainText('"photos/gone.jpg" is not in the ZIP');
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("import-report").click()]);
    const report = readFileSync(await download.path(), "utf8");
    expect(report.split("\n")[0]).toBe("line,external_key,name,reason");
    expect(report).toContain(`4,${key}-3,Nobody,`);
    if (javaScriptEnabled) {
      const { violations: found } = await new AxeBuilder({ page }).analyze();
      expect(found.map((v) => v.id)).toEqual([]);
    }
    // The imported person's dossier shows the key that a second import finds it by.
    await page.goto(`/dossiers?q=${encodeURIComponent(obama)}`);
    await page.getByRole("link", { name: obama }).first().click();
    await expect(page.getByTestId("dossier-name")).toHaveText(obama);
    await expect(page.getByTestId("external-key")).toHaveText(`${key}-1`);

    await page.goto("/imports");
    await expect(page.getByTestId("imports")).toContainText("people.zip");

    // A file that is no ZIP: refused, saying why, and nothing imported.
    await page.getByTestId("import-form").getByLabel("ZIP file").setInputFiles({
      name: "people.zip",
      mimeType: "application/zip",
      buffer: Buffer.from("name\nAnn\n"),
    });
    await page.getByTestId("import-form").getByRole("button", { name: "Import" }).click();
    await expect(page.getByTestId("import-refused")).toContainText("is not a ZIP archive");
    expect(violations).toEqual([]);
    await context.close();
  });
}
