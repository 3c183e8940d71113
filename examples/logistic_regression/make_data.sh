#!/bin/sh
# Writes X.csv (header x1..x5; N = 10,000 rows of standard-normal predictors, Box-Muller) and
# y.csv (header y; y ~ Bernoulli(sigmoid(b + X w)), w = (1, -0.5, 0.25, 0, 2), b = -0.3) into
# the current directory. awk only, deterministic: srand(7).
awk 'BEGIN {
  srand(7); N = 10000; D = 5; pi = 3.141592653589793
  split("1 -0.5 0.25 0 2", w, " "); b = -0.3
  print "x1,x2,x3,x4,x5" > "X.csv"; print "y" > "y.csv"
  for (n = 1; n <= N; n++) {
    eta = b; line = ""
    for (d = 1; d <= D; d++) {
      if (have) { x = spare; have = 0 }
      else {
        do u1 = rand(); while (u1 <= 0)       # log(0) guard
        u2 = rand(); r = sqrt(-2 * log(u1))
        x = r * cos(2 * pi * u2); spare = r * sin(2 * pi * u2); have = 1
      }
      line = line (d > 1 ? "," : "") sprintf("%.6f", x); eta += w[d] * x
    }
    print line > "X.csv"
    print (rand() < 1 / (1 + exp(-eta)) ? 1 : 0) > "y.csv"
  }
}'
