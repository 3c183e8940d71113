#include "parse/ast.hpp"

namespace vmc::ast {

const char* spelling(BinaryOp op) {
  switch (op) {
    case BinaryOp::Pow: return "^";
    case BinaryOp::ElemMul: return ".*";
    case BinaryOp::ElemDiv: return "./";
    case BinaryOp::Mul: return "*";
    case BinaryOp::Div: return "/";
    case BinaryOp::Add: return "+";
    case BinaryOp::Sub: return "-";
    case BinaryOp::Less: return "<";
    case BinaryOp::LessEqual: return "<=";
    case BinaryOp::Greater: return ">";
    case BinaryOp::GreaterEqual: return ">=";
    case BinaryOp::Equal: return "==";
    case BinaryOp::NotEqual: return "!=";
  }
  return "?";
}

const char* spelling(BlockKind kind) {
  switch (kind) {
    case BlockKind::Dims: return "dims";
    case BlockKind::Data: return "data";
    case BlockKind::Param: return "param";
    case BlockKind::Latent: return "latent";
    case BlockKind::Model: return "model";
    case BlockKind::Guide: return "guide";
    case BlockKind::Generated: return "generated";
  }
  return "?";
}

}  // namespace vmc::ast
