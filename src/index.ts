/** diffrendergan as a library. */
export * from './autodiff/index.js';
export { gradcheck, randomInput, type GradcheckCase, type GradcheckOptions, type GradcheckResult } from './autodiff/gradcheck.js';
export { allGradcheckCases, registerGradcheckCases } from './autodiff/gradcheck-cases.js';
export { UserError, InputError, ConfigError, ExitCode } from './errors.js';
