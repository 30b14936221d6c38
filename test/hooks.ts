import { cleanTmp } from "./helpers";

/** Mocha root hooks: the scratch folder goes once every test is over. */
export const mochaHooks = {
  afterAll() {
    cleanTmp();
  },
};
