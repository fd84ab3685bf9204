/**
 * The reference backend: direct loops that follow the definitions, simple enough to trust.
 * Every fast kernel is tested against these.
 */
import type { Backend, Conv2dGeom, Data, MatmulArgs } from '../backend.js';

function matmul({ a, b, out, batch, m, k, n, transA, transB, strideA, strideB }: MatmulArgs): boolean {
  for (let bi = 0; bi < batch; bi++) {
    const ao = bi * strideA;
    const bo = bi * strideB;
    const oo = bi * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = transA ? a[ao + p * m + i] : a[ao + i * k + p];
          const bv = transB ? b[bo + j * k + p] : b[bo + p * n + j];
          s += av * bv;
        }
        out[oo + i * n + j] = s;
      }
    }
  }
  return true;
}

/**
 * Visits every (output position, kernel tap) pair that reads a valid input pixel, calling
 * visit(xIndex, wIndex, yIndex). All three conv passes are this one loop with a different body,
 * which is what makes them adjoint by construction.
 */
function forEachTap(g: Conv2dGeom, visit: (xi: number, wi: number, yi: number) => void): void {
  const cInG = g.cIn / g.groups;
  const cOutG = g.cOut / g.groups;
  for (let n = 0; n < g.n; n++) {
    for (let co = 0; co < g.cOut; co++) {
      const grp = Math.floor(co / cOutG);
      for (let oy = 0; oy < g.outH; oy++) {
        for (let ox = 0; ox < g.outW; ox++) {
          const yi = ((n * g.cOut + co) * g.outH + oy) * g.outW + ox;
          for (let ci = 0; ci < cInG; ci++) {
            const c = grp * cInG + ci;
            for (let ky = 0; ky < g.kh; ky++) {
              const iy = oy * g.strideH - g.padH + ky * g.dilH;
              if (iy < 0 || iy >= g.h) continue;
              for (let kx = 0; kx < g.kw; kx++) {
                const ix = ox * g.strideW - g.padW + kx * g.dilW;
                if (ix < 0 || ix >= g.w) continue;
                visit(((n * g.cIn + c) * g.h + iy) * g.w + ix, ((co * cInG + ci) * g.kh + ky) * g.kw + kx, yi);
              }
            }
          }
        }
      }
    }
  }
}

function conv2d(x: Data, w: Data, out: Data, g: Conv2dGeom): boolean {
  out.fill(0);
  forEachTap(g, (xi, wi, yi) => {
    out[yi] += x[xi] * w[wi];
  });
  return true;
}

function conv2dGradInput(dy: Data, w: Data, dx: Data, g: Conv2dGeom): boolean {
  dx.fill(0);
  forEachTap(g, (xi, wi, yi) => {
    dx[xi] += dy[yi] * w[wi];
  });
  return true;
}

function conv2dGradWeight(x: Data, dy: Data, dw: Data, g: Conv2dGeom): boolean {
  dw.fill(0);
  forEachTap(g, (xi, wi, yi) => {
    dw[wi] += dy[yi] * x[xi];
  });
  return true;
}

export const referenceBackend: Backend = {
  name: 'reference',
  kernels: { matmul, conv2d, conv2dGradInput, conv2dGradWeight },
  describe: () => 'reference: direct loops in TypeScript',
};
