import { expect, test } from "@playwright/test";
import { hydrated, logIn } from "./pages";

test("a User sees everything and can change nothing", async ({ page }) => {
  await logIn(page, "viewer");
  await expect(page.getByTestId("whoami")).toHaveText("viewer (User)");
  await expect(page.getByTestId("watch-list-row").first()).toBeVisible();
  await expect(page.getByRole("link", { name: "New watch list" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Edit" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Users" })).toHaveCount(0);

  await page.goto("/dossiers");
  await expect(page.getByTestId("dossier-row").first()).toBeVisible();
  await expect(page.getByRole("link", { name: "New dossier" })).toHaveCount(0);
  await page.getByTestId("dossier-row").first().getByRole("link").first().click();
  await expect(page.getByTestId("gallery")).toBeVisible();
  await expect(page.getByRole("link", { name: "Edit" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Remove" })).toHaveCount(0);
  await expect(page.getByTestId("photo-upload")).toHaveCount(0);

  // Even the form itself, reached by its address, is refused by the server.
  await page.goto("/watch-lists/new");
  await hydrated(page);
  await page.getByLabel("Name").fill("Not allowed");
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page.getByRole("alert")).toContainText("your group (User) may not create watch lists");

  await page.goto("/users");
  await expect(page.getByRole("alert")).toContainText("your group (User) may not manage users");
});

test("an Administrator creates a user and issues an API token", async ({ page, request }) => {
  await logIn(page, "admin");
  await page.getByRole("link", { name: "Users" }).click();
  await hydrated(page);
  const username = `guard${Date.now().toString(36)}`;
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill("guard-password");
  await page.getByLabel("Group", { exact: true }).selectOption("Operator");
  await page.getByRole("button", { name: "Create user" }).click();
  const row = page.getByTestId("user-row").filter({ hasText: username });
  await expect(row).toBeVisible();
  await row.getByRole("button", { name: "Issue API token" }).click();
  const token = (await page.getByTestId("api-token").textContent())!.trim();
  expect(token).toMatch(/^[0-9a-f]{64}$/);

  const answer = await request.post("/api/auth/me", {
    headers: { Authorization: `Token ${token}`, "Content-Type": "application/json" },
    data: {},
  });
  expect(answer.ok()).toBe(true);
  expect((await answer.json()).username).toBe(username);
});
