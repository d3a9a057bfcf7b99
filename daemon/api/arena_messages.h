// Request and response of a unary callback method on a protobuf arena, for methods whose
// responses hold many messages (a timeline page: 50 events, each with its timestamps,
// strings and attribute map). Built on an arena, such a response costs a few block
// allocations and one release instead of a malloc and a free per field. Arenas are pooled
// with their first block, so a call of usual size allocates nothing at all. Thread-safe.
#pragma once

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace propbridge::api {

template <typename Request, typename Response>
class ArenaMessages final : public grpc::MessageAllocator<Request, Response> {
 public:
  // `block_bytes`: the first block of each pooled arena; a call needing more gets further
  // blocks from the heap, freed when it ends. At most `max_pooled` arenas are kept idle.
  explicit ArenaMessages(std::size_t block_bytes = 64 * 1024, std::size_t max_pooled = 64)
      : block_bytes_(block_bytes), max_pooled_(max_pooled) {}

  ArenaMessages(const ArenaMessages&) = delete;
  ArenaMessages& operator=(const ArenaMessages&) = delete;

  ~ArenaMessages() override {
    for (Holder* holder : idle_) delete holder;
  }

  grpc::MessageHolder<Request, Response>* AllocateMessages() override {
    Holder* holder = nullptr;
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        holder = idle_.back();
        idle_.pop_back();
      }
    }
    if (holder == nullptr) holder = new Holder(this, block_bytes_);
    holder->Start();
    return holder;
  }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder(ArenaMessages* owner, std::size_t block_bytes)
        : owner_(owner),
          block_(new char[block_bytes]),
          arena_(Options(block_.get(), block_bytes)) {}

    void Start() {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }

    // Runs the messages' destructors and frees every block but the first.
    void Release() override {
      arena_.Reset();
      owner_->Return(this);
    }

   private:
    static google::protobuf::ArenaOptions Options(char* block, std::size_t bytes) {
      google::protobuf::ArenaOptions options;
      options.initial_block = block;
      options.initial_block_size = bytes;
      return options;
    }

    ArenaMessages* const owner_;
    const std::unique_ptr<char[]> block_;
    google::protobuf::Arena arena_;
  };

  void Return(Holder* holder) {
    {
      std::lock_guard lock(mu_);
      if (idle_.size() < max_pooled_) {
        idle_.push_back(holder);
        return;
      }
    }
    delete holder;
  }

  const std::size_t block_bytes_;
  const std::size_t max_pooled_;
  std::mutex mu_;
  std::vector<Holder*> idle_;  // guarded by mu_
};

}  // namespace propbridge::api
