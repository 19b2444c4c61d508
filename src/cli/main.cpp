#include <cstdio>

int main() {
  std::puts("amphora: placeholder");
  return 0;
}
