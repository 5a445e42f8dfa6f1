// The seeded registry's project and users (global-setup.js makes them).

export const PROJECT = "shop";

export const users = {
  admin: { name: "admin", password: "ui-suite-admin-password", role: "admin" },
  alice: { name: "alice", password: "ui-suite-alice-password", role: "editor" },
  bob: { name: "bob", password: "ui-suite-bob-password-1", role: "approver" },
};
