// Open files held by their descriptor, for what the inbox does relative to a folder's
// descriptor (openat, renameat) instead of by path.
#pragma once

#include <array>
#include <ios>
#include <streambuf>
#include <utility>

namespace propbridge::billing {

// An open file descriptor, closed when this is destroyed. Movable, not copyable.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// A std::streambuf that reads a file descriptor it does not own, which must outlive it. It can
// seek to an absolute position (to read a file again from its start). A failed read throws,
// which the std::istream reading through it turns into bad(). Not thread-safe.
class FdReadBuffer final : public std::streambuf {
 public:
  explicit FdReadBuffer(int fd) : fd_(fd) {}

 protected:
  int_type underflow() override;
  pos_type seekoff(off_type offset, std::ios_base::seekdir from,
                   std::ios_base::openmode which) override;
  pos_type seekpos(pos_type position, std::ios_base::openmode which) override;

 private:
  int fd_;
  std::array<char, 64 * 1024> buffer_;
};

}  // namespace propbridge::billing
