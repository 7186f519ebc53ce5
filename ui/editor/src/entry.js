// The bundle's entry: defines window.BatchTasksEditor.
import { mount, chain, yaml } from "./index.js";

window.BatchTasksEditor = Object.freeze({ mount, chain, yaml, version: 1 });
